"""Model-based: random days of top-ups and payments, cut into random consecutive periods, against a tiny model.

For every period: the opening balance is the model's balance before its first day, the totals are the
model's money in and out on its days, the closing balance is the balance after its last day, and the
rows are the model's movements of those days, each with the balance after it. Consecutive periods tile
the history. A refused payment (insufficient funds) is in no statement.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import verified
from tests.wallets.statements.conftest import clock_at
from wallets import services
from wallets.accounts import registration
from wallets.errors import InsufficientFunds
from wallets.models import User
from wallets.statements.builder import statement_build
from wallets.statements.period import Period

START = date(2026, 1, 1)
DAYS = 40
MOBILES = itertools.count()


@dataclass(frozen=True)
class Step:
    day: int
    kind: str  # "top_up" (asha), "pay" (asha to ravi), "paid" (ravi to asha)
    amount: Decimal


steps = st.lists(
    st.builds(
        Step,
        day=st.integers(min_value=0, max_value=DAYS - 1),
        kind=st.sampled_from(["top_up", "pay", "paid"]),
        amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("90.00"), places=2),
    ),
    max_size=14,
).map(lambda drawn: sorted(drawn, key=lambda step: step.day))  # the clock only goes forward
cuts = st.lists(st.integers(min_value=1, max_value=DAYS - 1), max_size=4, unique=True).map(sorted)


def account(name: str) -> User:
    n = next(MOBILES)
    user = registration.user_register(
        username=f"{name}{n}", password="correct horse battery staple", mobile_number=f"+9197{n:08d}"
    )
    return verified(user)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=steps, cuts=cuts)
def test_statements_of_consecutive_periods_follow_the_model(
    steps: list[Step], cuts: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    asha, ravi = account("asha"), account("ravi")
    # Enough for every "paid" step; dated today, after every period (only asha's statements are read).
    services.wallet_top_up(user=ravi, amount="2000.00")
    balance = Decimal("0.00")
    # The model: per day, asha's movements (in, out, balance after), in order.
    moved: dict[int, list[tuple[Decimal, Decimal, Decimal]]] = {}
    for step in steps:
        with clock_at(monkeypatch, START + timedelta(days=step.day)):
            if step.kind == "top_up":
                services.wallet_top_up(user=asha, amount=step.amount)
                balance += step.amount
                moved.setdefault(step.day, []).append((step.amount, Decimal(0), balance))
            elif step.kind == "paid":
                services.transfer_create(sender=ravi, to_user_id=asha.pk, amount=step.amount)
                balance += step.amount
                moved.setdefault(step.day, []).append((step.amount, Decimal(0), balance))
            else:
                try:
                    services.transfer_create(sender=asha, to_user_id=ravi.pk, amount=step.amount)
                except InsufficientFunds:
                    continue  # FAILED: moved nothing, in no statement
                balance -= step.amount
                moved.setdefault(step.day, []).append((Decimal(0), step.amount, balance))

    bounds = [0, *cuts, DAYS]
    opening = Decimal("0.00")
    for first, end in itertools.pairwise(bounds):
        period = Period(first=START + timedelta(days=first), last=START + timedelta(days=end - 1))
        statement = statement_build(user=asha, period=period)
        expected = [row for day in range(first, end) for row in moved.get(day, [])]
        rows = [
            (line.amount_in or Decimal(0), line.amount_out or Decimal(0), line.balance_after)
            for line in statement.lines()
        ]
        assert rows == expected
        assert statement.opening_balance == opening
        assert statement.total_in == sum((r[0] for r in expected), Decimal(0))
        assert statement.total_out == sum((r[1] for r in expected), Decimal(0))
        closing = expected[-1][2] if expected else opening
        assert statement.closing_balance == closing
        opening = closing
    assert opening == balance
