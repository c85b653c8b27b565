"""A money movement reads the clock once: the day its daily limit counts is the day of its entry."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.models import Transaction
from wallets import services
from wallets.models import User, Wallet


def _ticking_clock(start: datetime, step: timedelta) -> Iterator[datetime]:
    moment = start
    while True:
        yield moment
        moment += step


def test_a_transfer_across_midnight_counts_its_limit_on_the_day_of_its_entry(
    alice: User, bob: User, settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_DAILY_LIMIT = Decimal("100.00")
    # Every reading of the clock is a second later: a second reading falls on the next day.
    last_second = timezone.make_aware(datetime(2026, 11, 30, 23, 59, 59, 500000))
    clock = _ticking_clock(last_second, timedelta(seconds=1))
    monkeypatch.setattr(timezone, "now", lambda: next(clock))

    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100")

    wallet = Wallet.objects.get(user=alice)
    assert wallet.spent_on == timezone.localdate(entry.created_at)
    assert Transaction.objects.get(pk=entry.pk).created_at == entry.created_at


def test_a_day_never_holds_more_than_its_limit_around_midnight(
    alice: User, bob: User, settings, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_DAILY_LIMIT = Decimal("100.00")
    clock = _ticking_clock(timezone.make_aware(datetime(2026, 11, 30, 23, 59, 59, 500000)), timedelta(seconds=1))
    monkeypatch.setattr(timezone, "now", lambda: next(clock))
    for _ in range(3):
        try:
            services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100")
        except services.DailyLimitExceeded:
            pass
    per_day: dict[object, Decimal] = {}
    for entry in Transaction.objects.filter(transaction_type="TRANSFER", status="SUCCESS"):
        day = timezone.localdate(entry.created_at)
        per_day[day] = per_day.get(day, Decimal("0")) + entry.amount
    assert per_day and all(total <= Decimal("100.00") for total in per_day.values())
