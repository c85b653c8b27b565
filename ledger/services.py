"""The ledger's one write path."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings

from ledger.models import Transaction
from wallets.models import Wallet


def entry_append(
    *,
    transaction_type: str,
    amount: Decimal,
    receiver: Wallet,
    sender: Wallet | None = None,
    status: str = Transaction.Status.SUCCESS,
    failure_reason: str = "",
) -> Transaction:
    """Insert one ledger row with each party's balance and version after it.

    Call inside the caller's transaction, with the wallets locked (for a FAILED
    row, the sender's) and their new balance/version already written: the row
    copies those figures. A FAILED row records no receiver figures.
    """
    failed = status == Transaction.Status.FAILED
    return Transaction.objects.create(
        transaction_type=transaction_type,
        status=status,
        amount=amount,
        currency=settings.PAYLANE_CURRENCY,
        sender_id=sender.user_id if sender else None,
        receiver_id=receiver.user_id,
        sender_balance_after=sender.balance if sender else None,
        sender_version_after=sender.version if sender else None,
        receiver_balance_after=None if failed else receiver.balance,
        receiver_version_after=None if failed else receiver.version,
        failure_reason=failure_reason,
    )
