"""The statement builder: opening balance, the period's entries, totals, closing balance and seal, from the ledger."""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest

from ledger.models import Transaction
from ledger.selectors import replay_signed_total, wallet_replay
from ledger.services import ledger_seal
from wallets.errors import InsufficientFunds
from wallets.models import User
from wallets.statements.builder import Statement, StatementLine, mobile_mask, statement_build
from wallets.statements.period import Period

MARCH = Period(first=date(2026, 3, 1), last=date(2026, 3, 31))


@pytest.fixture
def year_of_asha(asha: User, ravi: User, top_up: Callable[..., Transaction], pay: Callable[..., Transaction]) -> None:
    """February: 500 in, 100 to ravi. March: 200 in, 30 to ravi, 45 from ravi, a refused 5000. April: 10 to ravi."""
    top_up(asha, "500.00", date(2026, 2, 10))
    top_up(ravi, "100.00", date(2026, 2, 10))
    pay(asha, ravi, "100.00", date(2026, 2, 28), hour=23)
    top_up(asha, "200.00", date(2026, 3, 1), hour=0)
    pay(asha, ravi, "30.00", date(2026, 3, 5), note="lunch")
    pay(ravi, asha, "45.00", date(2026, 3, 20), note="=SUM(A1)")
    with pytest.raises(InsufficientFunds):
        pay(asha, ravi, "5000.00", date(2026, 3, 21))
    pay(asha, ravi, "10.00", date(2026, 4, 1), hour=0)


def lines_of(statement: Statement) -> list[tuple[str, str, str | None, str | None, str]]:
    def out(line: StatementLine) -> tuple[str, str, str | None, str | None, str]:
        amount_in = f"{line.amount_in}" if line.amount_in is not None else None
        amount_out = f"{line.amount_out}" if line.amount_out is not None else None
        return line.type, line.counterparty, amount_in, amount_out, f"{line.balance_after}"

    return [out(line) for line in statement.lines()]


@pytest.mark.usefixtures("year_of_asha")
def test_a_statement_opens_with_the_balance_before_the_period_and_lists_its_entries_in_and_out(asha: User) -> None:
    statement = statement_build(user=asha, period=MARCH)

    assert statement.opening_balance == Decimal("400.00")
    assert lines_of(statement) == [
        ("ADD_MONEY", "", "200.00", None, "600.00"),
        ("TRANSFER", "ravi", None, "30.00", "570.00"),
        ("TRANSFER", "ravi", "45.00", None, "615.00"),
    ]
    assert (statement.total_in, statement.total_out) == (Decimal("245.00"), Decimal("30.00"))
    assert statement.closing_balance == Decimal("615.00") == statement.opening_balance + Decimal("215.00")
    assert statement.entry_count == 3
    assert [line.note for line in statement.lines()] == ["", "lunch", "=SUM(A1)"]
    assert (statement.account_name, statement.username, statement.masked_mobile) == (
        "Asha Rao",
        "asha",
        "+91******3210",
    )


@pytest.mark.usefixtures("year_of_asha")
def test_failed_attempts_move_no_money_and_are_left_out(asha: User) -> None:
    failed = Transaction.objects.get(status="FAILED")
    statement = statement_build(user=asha, period=MARCH)
    assert failed.pk not in [line.id for line in statement.lines()]
    assert statement.entry_count == len(list(statement.lines()))


@pytest.mark.usefixtures("year_of_asha")
def test_the_other_party_sees_the_same_entries_the_other_way(ravi: User) -> None:
    statement = statement_build(user=ravi, period=MARCH)
    assert statement.opening_balance == Decimal("200.00")
    assert lines_of(statement) == [
        ("TRANSFER", "asha", "30.00", None, "230.00"),
        ("TRANSFER", "asha", None, "45.00", "185.00"),
    ]
    assert statement.closing_balance == Decimal("185.00")


@pytest.mark.usefixtures("year_of_asha")
def test_the_closing_balance_of_a_period_reaching_today_is_the_ledger_replay(asha: User, ravi: User) -> None:
    for user in (asha, ravi):
        statement = statement_build(user=user, period=Period(first=date(2026, 1, 1), last=date(2026, 12, 31)))
        replay = wallet_replay(user_id=user.pk)
        assert statement.closing_balance == replay.balance
        assert statement.opening_balance + statement.total_in - statement.total_out == replay.balance
        user.wallet.refresh_from_db()
        assert statement.closing_balance == user.wallet.balance


@pytest.mark.usefixtures("year_of_asha")
def test_the_closing_balance_of_a_past_period_is_the_replay_up_to_its_last_entry(asha: User, ravi: User) -> None:
    for user in (asha, ravi):
        statement = statement_build(user=user, period=MARCH)
        assert statement.closing_entry_id is not None
        # Today's replay less everything after the period's last entry.
        replayed = wallet_replay(user_id=user.pk).balance - replay_signed_total(
            user_id=user.pk, after_id=statement.closing_entry_id
        )
        assert statement.closing_balance == replayed


@pytest.mark.usefixtures("year_of_asha")
def test_consecutive_statements_tile_the_history(asha: User) -> None:
    months = [Period(first=date(2026, m, 1), last=date(2026, m, calendar.monthrange(2026, m)[1])) for m in range(1, 6)]
    statements = [statement_build(user=asha, period=month) for month in months]
    for before, after in itertools.pairwise(statements):
        assert after.opening_balance == before.closing_balance
    listed = [line.id for statement in statements for line in statement.lines()]
    success = Transaction.objects.filter(status="SUCCESS").order_by("id")
    assert listed == [e.pk for e in success if asha.pk in (e.sender_id, e.receiver_id)]
    assert statements[0].opening_balance == Decimal("0.00")


def test_an_account_without_entries_has_an_empty_statement(asha: User) -> None:
    statement = statement_build(user=asha, period=MARCH)
    assert list(statement.lines()) == []
    assert (statement.opening_balance, statement.closing_balance, statement.entry_count) == (Decimal("0.00"),) * 2 + (
        0,
    )
    assert statement.seal is None and statement.seal_text == "not sealed yet"


@pytest.mark.usefixtures("year_of_asha")
def test_an_entry_that_commits_after_the_statement_is_built_stays_out_of_it(
    asha: User, ravi: User, pay: Callable[..., Transaction]
) -> None:
    statement = statement_build(user=asha, period=Period(first=date(2026, 4, 1), last=date(2026, 4, 30)))
    late = pay(ravi, asha, "1.00", date(2026, 4, 2))
    ids = [line.id for line in statement.lines()]
    assert late.pk not in ids
    assert len(ids) == statement.entry_count == 1
    assert statement.closing_balance == Decimal("605.00")


@pytest.mark.usefixtures("year_of_asha")
def test_the_seal_named_is_the_one_holding_the_last_entry_or_not_sealed_yet(
    asha: User, pay: Callable[..., Transaction], ravi: User
) -> None:
    assert statement_build(user=asha, period=MARCH).seal_text == "not sealed yet"
    ledger_seal(max_rows=3)
    statement = statement_build(user=asha, period=MARCH)
    assert statement.seal is not None
    assert statement.seal.after_id < statement.closing_entry_id <= statement.seal.last_id  # type: ignore[operator]
    assert statement.seal_text.startswith(f"seal {statement.seal.pk} of ledger ids ")
    assert statement.seal.seal_hash in statement.seal_text
    # An entry after the last seal: its statement is not sealed yet.
    pay(ravi, asha, "1.00", date(2026, 5, 2))
    assert statement_build(user=asha, period=Period(first=date(2026, 5, 1), last=date(2026, 5, 31))).seal is None


def test_a_mobile_number_keeps_its_country_code_and_last_four_digits() -> None:
    assert mobile_mask("+919876543210") == "+91******3210"
    assert mobile_mask(None) == ""
