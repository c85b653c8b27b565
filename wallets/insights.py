"""Where a wallet's money went: the dashboard's figures, read from the ledger.

Three reads, each served by the ledger's (sender, -id) and (receiver, -id)
indexes (a window in time is also a range of ids, found on the created_at
index): the balance at the end of each of the last 30 days (from the
``*_balance_after`` that every SUCCESS entry carries, so nothing is replayed),
money in and out by counterparty this calendar month, and the people the user
paid most recently ("pay again"). Days and months are in ``TIME_ZONE``. Only
SUCCESS entries count: a FAILED attempt moved nothing.

The page sends these figures to static/js/dashboard-insights.js as data
(``json_script``); the script draws them and keeps them current from the same
websocket frames the dashboard already receives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Case, F, Max, Q, When, Window
from django.db.models.functions import RowNumber, TruncDate
from django.utils import timezone

from ledger.models import Transaction
from ledger.money import ZERO, MoneySum, money_str

BALANCE_DAYS = 30
COUNTERPARTIES_SHOWN = 6
PAYEES_SHOWN = 5


@dataclass(frozen=True)
class DayBalance:
    day: date
    balance: Decimal


@dataclass
class Counterparty:
    user_id: int
    username: str
    money_in: Decimal = ZERO
    money_out: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.money_in + self.money_out


@dataclass(frozen=True)
class Payee:
    user_id: int
    username: str


@dataclass
class DashboardInsights:
    today: date
    balances: list[DayBalance]
    counterparties: list[Counterparty]
    payees: list[Payee]
    currency: str = field(default_factory=lambda: settings.PAYLANE_CURRENCY)

    @property
    def money_in(self) -> Decimal:
        return sum((c.money_in for c in self.counterparties), ZERO)

    @property
    def money_out(self) -> Decimal:
        return sum((c.money_out for c in self.counterparties), ZERO)

    def as_data(self) -> dict[str, Any]:
        """The figures as the page's script reads them (amounts as strings, as everywhere)."""
        return {
            "currency": self.currency,
            "today": self.today.isoformat(),
            "month": self.today.strftime("%Y-%m"),
            "balances": [{"day": b.day.isoformat(), "balance": money_str(b.balance)} for b in self.balances],
            "counterparties": [
                {
                    "user_id": c.user_id,
                    "username": c.username,
                    "in": money_str(c.money_in),
                    "out": money_str(c.money_out),
                }
                for c in self.counterparties
            ],
            "payees": [{"user_id": p.user_id, "username": p.username} for p in self.payees],
        }


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock.min), timezone.get_current_timezone())


def _success() -> Q:
    return Q(status=Transaction.Status.SUCCESS)


# An entry's id is drawn when it is inserted and its time is read under the wallet locks just before:
# across concurrent transactions the two orders differ by at most a transaction's length, which the
# statement timeout keeps far below this.
_ID_CLOCK_SKEW = timedelta(minutes=10)


def _since(moment: datetime) -> Q:
    """Entries from ``moment`` on, bounded by id as well, so that a user's entries are read by the
    (sender, -id) and (receiver, -id) indexes from there only, however long their history."""
    first = (
        Transaction.objects.filter(created_at__gte=moment - _ID_CLOCK_SKEW)
        .order_by("created_at")
        .values_list("id", flat=True)
        .first()
    )
    if first is None:
        return Q(pk__in=[])
    return Q(id__gte=first, created_at__gte=moment)


def balance_by_day(*, user_id: int, today: date, days: int = BALANCE_DAYS) -> list[DayBalance]:
    """The balance at the end of each of the ``days`` days up to ``today`` (today: as it is now).

    Each SUCCESS entry records the balance it left each party with, and its
    version: a day ends with the balance of its highest version. A day with no
    entry keeps the day before's; the first day starts from the last entry
    before the window (or zero).
    """
    start = _day_start(today - timedelta(days=days - 1))
    before = _success() & Q(created_at__lt=start)
    last_sent = (
        Transaction.objects.filter(before, sender_id=user_id)
        .order_by("-id")
        .values_list("sender_version_after", "sender_balance_after")
        .first()
    )
    last_received = (
        Transaction.objects.filter(before, receiver_id=user_id)
        .order_by("-id")
        .values_list("receiver_version_after", "receiver_balance_after")
        .first()
    )
    opening = max((row for row in (last_sent, last_received) if row and row[0] is not None), default=(0, ZERO))
    # Each day's last entry, chosen in the database (a window function): a busy wallet's month is
    # thirty rows read here, not every entry of it.
    local_day = TruncDate("created_at", tzinfo=timezone.get_current_timezone())
    party_version = Case(When(sender_id=user_id, then=F("sender_version_after")), default=F("receiver_version_after"))
    last_of_each_day = (
        Transaction.objects.filter(_success() & _since(start) & (Q(sender_id=user_id) | Q(receiver_id=user_id)))
        .annotate(
            day=local_day,
            version=party_version,
            latest=Window(RowNumber(), partition_by=[local_day], order_by=party_version.desc(nulls_last=True)),
        )
        .filter(latest=1)
        .values_list("day", "version", "sender_id", "sender_balance_after", "receiver_balance_after")
    )
    ends: dict[date, Decimal] = {}
    for entry_day, entry_version, sender_id, s_balance, r_balance in last_of_each_day:
        entry_balance = s_balance if sender_id == user_id else r_balance
        if entry_version is not None and entry_balance is not None:
            ends[entry_day] = entry_balance
    result, balance = [], opening[1] or ZERO
    for offset in range(days):
        day = today - timedelta(days=days - 1 - offset)
        if day in ends:
            balance = ends[day]
        result.append(DayBalance(day=day, balance=balance))
    return result


def counterparties_this_month(*, user_id: int, today: date, limit: int = COUNTERPARTIES_SHOWN) -> list[Counterparty]:
    """Money in from and out to each person this calendar month, the largest total first.

    Transfers, refunds and reversals count; adding money has no counterparty.
    """
    month = _success() & _since(_day_start(today.replace(day=1))) & Q(sender__isnull=False)
    month &= ~Q(transaction_type=Transaction.Type.ADD_MONEY)
    people: dict[int, Counterparty] = {}
    incoming = (
        Transaction.objects.filter(month, receiver_id=user_id)
        .values_list("sender_id", "sender__username")
        .annotate(total=MoneySum("amount"))
        .order_by()
    )
    for sender_id, sender_name, money_in in incoming:
        people.setdefault(sender_id, Counterparty(sender_id, sender_name)).money_in += money_in
    outgoing = (
        Transaction.objects.filter(month, sender_id=user_id)
        .values_list("receiver_id", "receiver__username")
        .annotate(total=MoneySum("amount"))
        .order_by()
    )
    for receiver_id, receiver_name, money_out in outgoing:
        people.setdefault(receiver_id, Counterparty(receiver_id, receiver_name)).money_out += money_out
    ranked = sorted(people.values(), key=lambda c: (-c.total, c.username.lower()))
    return ranked[:limit]


def recent_payees(*, user_id: int, limit: int = PAYEES_SHOWN) -> list[Payee]:
    """The people ``user_id`` paid most recently (a SUCCESS transfer), the latest first, each once."""
    rows = (
        Transaction.objects.filter(_success(), sender_id=user_id, transaction_type=Transaction.Type.TRANSFER)
        .values("receiver_id", "receiver__username")
        .annotate(last=Max("id"))
        .order_by("-last")[:limit]
    )
    return [Payee(user_id=row["receiver_id"], username=row["receiver__username"]) for row in rows]


def dashboard_insights(*, user_id: int, today: date | None = None) -> DashboardInsights:
    """All three, for the dashboard of ``user_id`` (``today`` in ``TIME_ZONE`` unless given)."""
    today = today or timezone.localdate()
    return DashboardInsights(
        today=today,
        balances=balance_by_day(user_id=user_id, today=today),
        counterparties=counterparties_this_month(user_id=user_id, today=today),
        payees=recent_payees(user_id=user_id),
    )
