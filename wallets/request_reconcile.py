"""Do paid money requests follow from the ledger? A check of every reconciliation (``verify_ledger``).

A PAID request names the entry that paid it; that entry must be a SUCCESS TRANSFER from the
request's payer to its requester, of the request's amount. (The database already holds that a
request is PAID exactly when it names an entry, and that an entry pays at most one request.)
"""

from __future__ import annotations

from datetime import date

from django.db.models import F

from ledger.models import Transaction
from ledger.reconcile import Finding
from wallets.request_models import MoneyRequest


def request_findings(today: date) -> list[Finding]:
    """One finding per PAID request whose entry is not the transfer it should be (one query, in the run's snapshot)."""
    wrong = (
        MoneyRequest.objects.filter(status=MoneyRequest.Status.PAID)
        .exclude(
            paid_entry__transaction_type=Transaction.Type.TRANSFER,
            paid_entry__status=Transaction.Status.SUCCESS,
            paid_entry__sender_id=F("payer_id"),
            paid_entry__receiver_id=F("requester_id"),
            paid_entry__amount=F("amount"),
        )
        .order_by("id")
        .values_list("id", "paid_entry_id")
    )
    return [
        Finding(
            "request",
            f"money request {request_id}",
            f"PAID by entry {entry_id}, which is not a SUCCESS transfer of its amount from its payer to its requester",
        )
        for request_id, entry_id in wrong
    ]
