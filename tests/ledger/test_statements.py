"""The hot path's statements: compiled once by the ORM, run with new values, converted as the ORM would."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from ledger.models import AppendOnlyError, Transaction
from ledger.services import Party, entry_append
from ledger.statements import Statement
from wallets import services, transfer_function
from wallets.models import User, Wallet

BALANCE = Statement(lambda user: Wallet.objects.filter(user_id=user).values_list("balance", "spent_on"), user=-1)


def _statements(captured: CaptureQueriesContext) -> list[str]:
    """The data statements run (not BEGIN, COMMIT or savepoints)."""
    data = {"SELECT", "UPDATE", "INSERT"}
    return [q["sql"] for q in captured.captured_queries if q["sql"].lstrip().split()[0] in data]


def test_a_transfer_is_one_lock_one_balance_write_and_one_ledger_insert(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Statement by statement: SQLite's path, and PostgreSQL's with the one-statement function off
    # (its one statement: tests/wallets/test_transfer_twin.py).
    monkeypatch.setattr(transfer_function, "ONE_STATEMENT", False)
    with CaptureQueriesContext(connection) as captured:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5.00")

    lock, write, insert, alerts = _statements(captured)
    # ... and the outbox's row: the parties' alerts, written in the same transaction (jobs.outbox).
    assert alerts.startswith('INSERT INTO "django_tasks_database_dbtaskresult"')
    assert lock.startswith("SELECT") and '"wallets_wallet"' in lock
    if connection.vendor == "postgresql":
        assert lock.endswith('FOR UPDATE OF "wallets_wallet"')
    assert write.lstrip().startswith("UPDATE wallets_wallet") and "WHERE id IN" in write
    assert insert.startswith('INSERT INTO "ledger_transaction"')


def test_a_statement_is_compiled_once_and_then_reused(alice: User, bob: User) -> None:
    statement = Statement(BALANCE.build, user=-1)
    with mock.patch.object(statement, "_compile", wraps=statement._compile) as compile_:
        first = statement.rows(user=alice.pk)
        second = statement.rows(user=bob.pk)

    assert compile_.call_count == 1
    assert first == [[Decimal("1000.00"), None]]
    assert second == [[Decimal("0.00"), None]]


@pytest.mark.django_db(transaction=True)
def test_a_statement_compiled_on_one_thread_runs_on_another_threads_connection(alice: User) -> None:
    # Under ASGI every request has a thread and a connection of its own.
    statement = Statement(BALANCE.build, user=-1)
    results: list[list[list[Any]]] = []
    with mock.patch.object(statement, "_compile", wraps=statement._compile) as compile_:
        results.append(statement.rows(user=alice.pk))
        worker = threading.Thread(target=lambda: (results.append(statement.rows(user=alice.pk)), connection.close()))
        worker.start()
        worker.join()

    assert compile_.call_count == 1
    assert results == [[[Decimal("1000.00"), None]]] * 2


@pytest.mark.parametrize("amount", ["0.01", "123456789012.34", "999999999999.99"])
def test_rows_come_back_exactly_as_the_orm_returns_them(register: Any, amount: str) -> None:
    carol = register("carol", balance=None)
    Wallet.objects.filter(user=carol).update(balance=Decimal(amount))

    rows = BALANCE.rows(user=carol.pk)

    assert rows == [list(Wallet.objects.filter(user=carol).values_list("balance", "spent_on").get())]
    assert type(rows[0][0]) is Decimal and str(rows[0][0]) == amount


def test_a_slot_the_query_does_not_use_is_refused_when_compiled(alice: User) -> None:
    statement = Statement(lambda user: Wallet.objects.values_list("balance"), user=-1)

    with pytest.raises(ValueError, match="slots not found"):
        statement.rows(user=alice.pk)


def test_an_appended_entry_has_its_key_and_can_never_be_saved_again(alice: User) -> None:
    entry = entry_append(
        transaction_type=Transaction.Type.ADD_MONEY,
        amount=Decimal("1.00"),
        receiver=Party(alice.pk, alice.wallet.balance, alice.wallet.version),
    )

    assert entry.pk is not None
    assert Transaction.objects.get(pk=entry.pk).row_hash == entry.row_hash
    with pytest.raises(AppendOnlyError):
        entry.save()
