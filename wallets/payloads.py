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
    }
