"""Reads of wallets and history."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet
from django.db.models.functions import Lower

from ledger.models import Transaction
from ledger.selectors import entries_visible_to, entry_visible_to, visible_to
from wallets import limits
from wallets.errors import WalletError
from wallets.limits import remaining_on_day, spent_on_day
from wallets.models import Profile, User, Wallet
from wallets.phone import mobile_normalize
from wallets.request_selectors import entries_requests_attach


def wallet_for_user(*, user: User) -> Wallet:
    return Wallet.objects.select_related("user", "user__profile").get(user=user)


def wallet_spent_today(*, wallet: Wallet) -> Decimal:
    return spent_on_day(wallet, limits.today())


def wallet_remaining_today(*, wallet: Wallet) -> Decimal:
    return remaining_on_day(wallet, limits.today())


def transactions_for_user(*, user_id: int) -> QuerySet[Transaction]:
    """Every entry the user may see (``ledger.selectors.visible_to``), newest first."""
    return Transaction.objects.filter(visible_to(user_id)).select_related("sender", "receiver").order_by("-id")


def transactions_page_for_user(
    *, user_id: int, before_id: int | None = None, after_id: int | None = None, limit: int
) -> list[Transaction]:
    """A keyset page of the user's history, newest first (``ledger.selectors.entries_visible_to``),
    each entry knowing the money request it paid (one more query)."""
    entries = entries_visible_to(user_id=user_id, limit=limit, before_id=before_id, after_id=after_id)
    entries_requests_attach(entries)
    return entries


def transaction_for_user(*, user_id: int, transaction_id: int) -> Transaction | None:
    """One entry (knowing the money request it paid), if the user may see it, else None."""
    entry = entry_visible_to(user_id=user_id, entry_id=transaction_id)
    if entry is not None:
        entries_requests_attach([entry])
    return entry


def user_has_wallet(*, user_id: int) -> bool:
    """False for accounts made outside ``user_register`` (e.g. ``createsuperuser``)."""
    return Wallet.objects.filter(user_id=user_id).exists()


def user_ids_matching(*, term: str) -> list[int]:
    """Users whose username (any case) or mobile number is exactly ``term``: index lookups, no scan (admin search)."""
    ids = list(User.objects.annotate(lname=Lower("username")).filter(lname=term.lower()).values_list("id", flat=True))
    try:
        mobile = mobile_normalize(term)
    except WalletError:
        return ids
    return ids + list(Profile.objects.filter(mobile_number=mobile).values_list("user_id", flat=True))
