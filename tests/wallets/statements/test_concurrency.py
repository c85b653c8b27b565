"""Statements read while transfers commit (PostgreSQL, real threads): every statement adds up, and the last one
closes on the wallet's balance and the ledger replay."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.selectors import wallet_replay
from tests.racing import race
from wallets import services
from wallets.errors import InsufficientFunds
from wallets.models import User
from wallets.statements.builder import statement_build
from wallets.statements.period import Period

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_statements_read_while_transfers_commit_always_add_up(register: Callable[..., User]) -> None:
    asha = register("asha", balance="300.00")
    ravi = register("ravi", balance="300.00")
    today = timezone.localdate()
    period = Period(first=today, last=today)

    def pay_back_and_forth() -> int:
        moved = 0
        for n in range(60):
            sender, receiver = (asha, ravi) if n % 2 else (ravi, asha)
            try:
                services.transfer_create(sender=sender, to_user_id=receiver.pk, amount=f"{1 + n % 7}.25")
                moved += 1
            except InsufficientFunds:
                pass
        return moved

    def read_statements() -> list[str]:
        problems: list[str] = []
        for _ in range(15):
            # A small chunk: the server-side cursor fetches many times while transfers commit.
            statement = statement_build(user=asha, period=period, chunk_size=3)
            balance, count = statement.opening_balance, 0
            for line in statement.lines():
                balance += (line.amount_in or Decimal(0)) - (line.amount_out or Decimal(0))
                count += 1
                if balance != line.balance_after:
                    problems.append(f"entry {line.id}: running {balance} but the ledger says {line.balance_after}")
            if count != statement.entry_count or balance != statement.closing_balance:
                problems.append(
                    f"{count} entries to {balance}, the figures say {statement.entry_count} to "
                    f"{statement.closing_balance}"
                )
            if statement.opening_balance + statement.total_in - statement.total_out != statement.closing_balance:
                problems.append("totals do not lead from opening to closing")
        return problems

    results = race([pay_back_and_forth, read_statements, read_statements])
    assert not [r for r in results if isinstance(r, BaseException)], results
    assert results[0] > 0
    assert results[1] == [] and results[2] == []

    final = statement_build(user=asha, period=period)
    asha.wallet.refresh_from_db()
    assert final.closing_balance == asha.wallet.balance == wallet_replay(user_id=asha.pk).balance
