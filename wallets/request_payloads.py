"""The request object: one shape for the JSON API and the websocket's ``request`` frame."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

from django.conf import settings
from django.utils import timezone

from ledger.money import money_str
from wallets.payloads import PartyPayload, party_payload
from wallets.request_models import MoneyRequest


class RequestPayload(TypedDict):
    id: int
    # PENDING, PAID, DECLINED, CANCELLED or EXPIRED (a PENDING request past expires_at reads EXPIRED).
    status: str
    amount: str
    currency: str
    requester: PartyPayload
    payer: PartyPayload
    note: str | None
    created_at: str
    expires_at: str
    # When it left PENDING, or None.
    closed_at: str | None
    # The TRANSFER that paid it, or None.
    transaction: int | None


def _time(moment: datetime | None) -> str | None:
    return timezone.localtime(moment).isoformat() if moment is not None else None


def request_payload(money_request: MoneyRequest, *, now: datetime | None = None) -> RequestPayload:
    """The request object. Select ``requester`` and ``payer`` with the request to avoid extra queries."""
    return {
        "id": money_request.pk,
        "status": money_request.effective_status(now),
        "amount": money_str(money_request.amount),
        "currency": settings.PAYLANE_CURRENCY,
        "requester": party_payload(money_request.requester),
        "payer": party_payload(money_request.payer),
        "note": money_request.note or None,
        "created_at": timezone.localtime(money_request.created_at).isoformat(),
        "expires_at": timezone.localtime(money_request.expires_at).isoformat(),
        "closed_at": _time(money_request.closed_at),
        "transaction": money_request.paid_entry_id,
    }
