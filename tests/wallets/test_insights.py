"""Where the money went: the dashboard's figures (wallets/insights.py), checked against a known history."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from wallets import insights, services
from wallets.errors import InsufficientFunds
from wallets.models import User

TODAY = date(2026, 11, 20)


class Clock:
    """``timezone.now`` as the test sets it: every movement is stamped when the test says it happened."""

    def __init__(self) -> None:
        self.now = datetime(2026, 9, 1, 6, 0, tzinfo=UTC)

    def at(self, day: date, hour: int = 12) -> None:
        self.now = timezone.make_aware(datetime(day.year, day.month, day.day, hour), timezone.get_current_timezone())


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(timezone, "now", lambda: clock.now)
    return clock


@pytest.fixture
def people(clock: Clock, register: Callable[..., User]) -> tuple[User, User, User]:
    return register("asha"), register("bob"), register("carol")


def d(text: str) -> Decimal:
    return Decimal(text)


def test_the_balance_ends_each_of_the_last_30_days_as_the_ledger_left_it(
    clock: Clock, people: tuple[User, User, User]
) -> None:
    asha, bob, _ = people
    clock.at(date(2026, 10, 1))
    services.wallet_top_up(user=asha, amount="100.00")  # before the window: its opening balance
    services.wallet_top_up(user=bob, amount="20.00")
    clock.at(date(2026, 10, 25), 9)
    services.wallet_top_up(user=asha, amount="50.00")
    clock.at(date(2026, 10, 25), 18)
    services.transfer_create(sender=asha, to_user_id=bob.pk, amount="30.00")  # the day ends at 120
    with pytest.raises(InsufficientFunds):
        services.transfer_create(sender=asha, to_user_id=bob.pk, amount="999.00")  # FAILED: moved nothing
    clock.at(TODAY, 8)
    services.transfer_create(sender=bob, to_user_id=asha.pk, amount="5.00")

    days = insights.balance_by_day(user_id=asha.pk, today=TODAY)

    assert len(days) == 30
    assert days[0].day == TODAY - timedelta(days=29) == date(2026, 10, 22)
    assert days[-1].day == TODAY
    by_day = {b.day: b.balance for b in days}
    assert by_day[date(2026, 10, 22)] == by_day[date(2026, 10, 24)] == d("100.00")
    assert by_day[date(2026, 10, 25)] == by_day[date(2026, 11, 19)] == d("120.00")
    assert by_day[TODAY] == d("125.00")
    asha.wallet.refresh_from_db()
    assert days[-1].balance == asha.wallet.balance


def test_a_busy_day_ends_with_its_last_entry_whichever_side_each_party_was_on(
    clock: Clock, people: tuple[User, User, User]
) -> None:
    asha, bob, _ = people
    clock.at(TODAY - timedelta(days=2))
    services.wallet_top_up(user=asha, amount="100.00")
    services.wallet_top_up(user=bob, amount="100.00")
    clock.at(TODAY - timedelta(days=1), 9)
    for i in range(12):  # paid and paying in turn: the last entry has bob paying asha
        payer, payee = (asha, bob) if i % 2 == 0 else (bob, asha)
        services.transfer_create(sender=payer, to_user_id=payee.pk, amount=f"{i + 1}.00")

    for user in (asha, bob):
        by_day = {b.day: b.balance for b in insights.balance_by_day(user_id=user.pk, today=TODAY)}
        user.wallet.refresh_from_db()
        assert by_day[TODAY - timedelta(days=1)] == by_day[TODAY] == user.wallet.balance
    assert (asha.wallet.balance, bob.wallet.balance) == (d("106.00"), d("94.00"))


def test_a_new_wallet_has_thirty_days_of_zero(clock: Clock, people: tuple[User, User, User]) -> None:
    asha, _, _ = people
    days = insights.balance_by_day(user_id=asha.pk, today=TODAY)
    assert [b.balance for b in days] == [d("0.00")] * 30


def test_days_are_the_time_zones_days(clock: Clock, people: tuple[User, User, User], settings) -> None:  # type: ignore[no-untyped-def]
    asha, _, _ = people
    assert settings.TIME_ZONE == "Asia/Kolkata"
    clock.now = datetime(2026, 11, 18, 20, 0, tzinfo=UTC)  # 19 Nov, 01:30 in Kolkata
    services.wallet_top_up(user=asha, amount="7.00")
    by_day = {b.day: b.balance for b in insights.balance_by_day(user_id=asha.pk, today=TODAY)}
    assert by_day[date(2026, 11, 18)] == d("0.00")
    assert by_day[date(2026, 11, 19)] == d("7.00")


def test_money_in_and_out_by_person_counts_this_month_only_largest_first(
    clock: Clock, people: tuple[User, User, User]
) -> None:
    asha, bob, carol = people
    clock.at(date(2026, 10, 30))
    for user in people:
        services.wallet_top_up(user=user, amount="500.00")
    services.transfer_create(sender=asha, to_user_id=bob.pk, amount="300.00")  # last month: not counted
    clock.at(date(2026, 11, 1), 0)  # the month's first hour counts
    services.transfer_create(sender=asha, to_user_id=bob.pk, amount="10.00")
    clock.at(date(2026, 11, 3))
    services.transfer_create(sender=carol, to_user_id=asha.pk, amount="50.00")
    services.transfer_create(sender=asha, to_user_id=bob.pk, amount="0.50")
    services.wallet_top_up(user=asha, amount="1000.00")  # nobody's money: not a counterparty
    with pytest.raises(InsufficientFunds):
        services.transfer_create(sender=asha, to_user_id=carol.pk, amount="99999.00")
    clock.at(TODAY)
    services.transfer_create(sender=bob, to_user_id=asha.pk, amount="5.00")

    people_this_month = insights.counterparties_this_month(user_id=asha.pk, today=TODAY)

    assert [(c.username, c.money_in, c.money_out) for c in people_this_month] == [
        ("carol", d("50.00"), d("0.00")),
        ("bob", d("5.00"), d("10.50")),
    ]


def test_the_list_by_person_is_cut_at_its_limit(clock: Clock, register: Callable[..., User]) -> None:
    payer = register("payer")
    clock.at(TODAY)
    services.wallet_top_up(user=payer, amount="1000.00")
    for n in range(8):
        services.transfer_create(sender=payer, to_user_id=register(f"p{n}").pk, amount=f"{n + 1}.00")
    shown = insights.counterparties_this_month(user_id=payer.pk, today=TODAY, limit=3)
    assert [c.username for c in shown] == ["p7", "p6", "p5"]


def test_recent_payees_are_the_people_paid_latest_first_each_once(
    clock: Clock, people: tuple[User, User, User], register: Callable[..., User]
) -> None:
    asha, bob, carol = people
    dan = register("dan")
    clock.at(TODAY)
    services.wallet_top_up(user=asha, amount="100.00")
    services.wallet_top_up(user=dan, amount="100.00")
    services.transfer_create(sender=asha, to_user_id=bob.pk, amount="1.00")
    services.transfer_create(sender=asha, to_user_id=carol.pk, amount="1.00")
    services.transfer_create(sender=asha, to_user_id=bob.pk, amount="1.00")
    services.transfer_create(sender=dan, to_user_id=asha.pk, amount="1.00")  # paid by dan: not a payee
    with pytest.raises(InsufficientFunds):
        services.transfer_create(sender=asha, to_user_id=dan.pk, amount="500.00")  # failed: not a payee

    assert [p.username for p in insights.recent_payees(user_id=asha.pk)] == ["bob", "carol"]
    assert [p.username for p in insights.recent_payees(user_id=asha.pk, limit=1)] == ["bob"]


def test_the_figures_travel_as_strings(clock: Clock, people: tuple[User, User, User]) -> None:
    asha, bob, _ = people
    clock.at(TODAY)
    services.wallet_top_up(user=asha, amount="1234.5")
    services.transfer_create(sender=asha, to_user_id=bob.pk, amount="0.5")
    data = insights.dashboard_insights(user_id=asha.pk, today=TODAY).as_data()
    assert data["currency"] == "INR"
    assert data["month"] == "2026-11"
    assert data["balances"][-1] == {"day": "2026-11-20", "balance": "1234.00"}
    assert data["counterparties"] == [{"user_id": bob.pk, "username": "bob", "in": "0.00", "out": "0.50"}]
    assert data["payees"] == [{"user_id": bob.pk, "username": "bob"}]
