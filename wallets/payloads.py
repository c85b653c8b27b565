"""Wire shapes shared by the JSON API and the websocket: one definition each.

Amounts are strings with exactly two decimals; times are ISO 8601 with their
offset (in the service's ``TIME_ZONE``).
"""

from __future__ import annotations

from typing import TypedDict

from django.utils import timezone

from ledger.models import Transaction
from ledger.money import money_str
from wallets.models import User


class PartyPayload(TypedDict):
    user_id: int
    username: str


class TransactionPayload(TypedDict):
    id: int
    type: str
    status: str
    amount: str
    currency: str
    sender: PartyPayload | None
    receiver: PartyPayload
    failure_reason: str | None
    created_at: str
    # What the payer wrote, or None.
    note: str | None
    # The entry a REFUND or REVERSAL corrects, or None.
    corrects: int | None
    # The money request this TRANSFER paid, or None.
    request: int | None


def party_payload(user: User) -> PartyPayload:
    return {"user_id": user.pk, "username": user.username}


def transaction_payload(entry: Transaction) -> TransactionPayload:
    """The transaction object. Select ``sender`` and ``receiver`` with the entry to avoid extra queries."""
    return {
        "id": entry.pk,
        "type": entry.transaction_type,
        "status": entry.status,
        "amount": money_str(entry.amount),
        "currency": entry.currency,
        "sender": party_payload(entry.sender) if entry.sender is not None else None,
        "receiver": party_payload(entry.receiver),
        "failure_reason": entry.failure_reason or None,
        "created_at": timezone.localtime(entry.created_at).isoformat(),
        "note": entry.note or None,
        "corrects": entry.corrects_id,
        "request": getattr(entry, REQUEST_ATTRIBUTE, None),
    }


# Where an entry carries the id of the money request it paid: set by the payment itself
# (``entry_request_set``) and by the selectors that load history (``entries_requests_attach``
# in ``wallets.request_selectors``), so the payload needs no query. An entry without it
# paid no request (a fresh transfer, a top-up).
REQUEST_ATTRIBUTE = "paid_request_id"


def entry_request_set(entry: Transaction, request_id: int | None) -> None:
    setattr(entry, REQUEST_ATTRIBUTE, request_id)
