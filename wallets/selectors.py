"""Reads of wallets and history."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from ledger.history import HistoryFilter
from ledger.models import Transaction
from ledger.replica import replica_reads
from ledger.selectors import entries_visible_to, entry_visible_to, visible_to
from wallets import limits
from wallets.errors import WalletError
from wallets.history import NO_QUERY, HistoryQuery
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
    *,
    user_id: int,
    before_id: int | None = None,
    after_id: int | None = None,
    limit: int,
    query: HistoryQuery = NO_QUERY,
) -> list[Transaction]:
    """A keyset page of the user's history, newest first, narrowed by ``query``: the one owner of
    "which entries may this user see" (``ledger.selectors.entries_visible_to``) and of the history filters."""
    filters = history_filter(query=query)
    with replica_reads():  # read-only: the replica may serve it (ledger.replica)
        entries = entries_visible_to(
            user_id=user_id, limit=limit, before_id=before_id, after_id=after_id, filters=filters
        )
        entries_requests_attach(entries)  # each entry knows the money request it paid (one more query)
    return entries


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def history_filter(*, query: HistoryQuery) -> HistoryFilter:
    """``query`` in the ledger's terms: days in TIME_ZONE as instants, and for ``q`` the users whose
    username holds it (any case) as the other parties whose entries match besides the notes.

    Only usernames: the history shows the other party by username. First and last names are
    shown to payers masked, so matching them would let anyone read them a letter at a time.
    A day at the ends of the calendar leaves its side open (no instant before or after it).
    """
    since = _day_start(query.since) if query.since is not None and query.since > date.min else None
    until = None
    if query.until is not None and query.until < date.max - timedelta(days=1):
        until = _day_start(query.until + timedelta(days=1))
    named = None
    if query.q is not None:
        named = User.objects.filter(username__icontains=query.q).values("id")
    return HistoryFilter(
        since=since,
        until=until,
        counterparty_id=query.counterparty,
        direction=query.direction,
        transaction_type=query.type,
        status=query.status,
        min_amount=query.min_amount,
        max_amount=query.max_amount,
        text=query.q,
        parties_named=named,
    )


def transaction_for_user(*, user_id: int, transaction_id: int) -> Transaction | None:
    """One entry (knowing the money request it paid), if the user may see it, else None."""
    with replica_reads():
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
