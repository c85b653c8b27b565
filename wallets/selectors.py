"""Reads of wallets and history."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Q, QuerySet
from django.utils import timezone

from ledger.models import Transaction
from wallets.models import User, Wallet
from wallets.money import ZERO


def wallet_for_user(*, user: User) -> Wallet:
    return Wallet.objects.select_related("user", "user__profile").get(user=user)


def wallet_spent_today(*, wallet: Wallet) -> Decimal:
    return wallet.spent_today if wallet.spent_on == timezone.localdate() else ZERO


def wallet_remaining_today(*, wallet: Wallet) -> Decimal:
    return max(wallet.effective_daily_limit - wallet_spent_today(wallet=wallet), ZERO)


def transactions_for_user(*, user_id: int) -> QuerySet[Transaction]:
    """Every entry the user is a party to, newest first; FAILED attempts only for their sender."""
    return (
        Transaction.objects.filter(Q(sender_id=user_id) | Q(receiver_id=user_id, status=Transaction.Status.SUCCESS))
        .select_related("sender", "receiver")
        .order_by("-id")
    )


def transactions_page_for_user(*, user_id: int, before_id: int | None, limit: int) -> list[Transaction]:
    """Up to ``limit`` of the user's entries with ids below ``before_id``, newest first (keyset page).

    Per user, ledger ids follow commit order, so a page never misses a row
    that commits later: new rows only ever appear above the first page.
    """
    entries = transactions_for_user(user_id=user_id)
    if before_id is not None:
        entries = entries.filter(id__lt=before_id)
    return list(entries[:limit])


def transaction_for_user(*, user_id: int, transaction_id: int) -> Transaction | None:
    """One entry, if the user may see it (as for ``transactions_for_user``), else None."""
    return transactions_for_user(user_id=user_id).filter(pk=transaction_id).first()


def user_has_wallet(*, user_id: int) -> bool:
    """False for accounts made outside ``user_register`` (e.g. ``createsuperuser``)."""
    return Wallet.objects.filter(user_id=user_id).exists()
