"""The auditor's snapshot: one committed state, read only, and on SQLite no write lock."""

from __future__ import annotations

import threading

import pytest
from django.db import DatabaseError, connection, transaction

from ledger.models import Transaction
from ledger.snapshot import ledger_snapshot
from tests.racing import race
from wallets import services
from wallets.models import User, Wallet

pytestmark = pytest.mark.django_db(transaction=True)


def show(setting: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {setting}")
        return str(cursor.fetchone()[0])


@pytest.mark.postgres
def test_on_postgresql_the_snapshot_is_one_repeatable_read_read_only_transaction(alice: User) -> None:
    with ledger_snapshot():
        assert show("transaction_isolation") == "repeatable read"
        assert show("transaction_read_only") == "on"
        with pytest.raises(DatabaseError, match="read-only"), connection.cursor() as cursor:
            cursor.execute("UPDATE wallets_wallet SET balance = balance")
    assert show("transaction_isolation") == "read committed"  # the next transaction is ordinary again


@pytest.mark.postgres
def test_the_snapshot_is_fixed_when_the_block_starts_not_at_its_first_read(alice: User, bob: User) -> None:
    # verify_ledger reads the clock after entering: that is only safe if no
    # row committed after that instant can appear in what it reads next.
    before = Transaction.objects.count()
    with ledger_snapshot():
        assert race([lambda: services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")])[0].pk
        assert Transaction.objects.count() == before
        assert Wallet.objects.get(user=alice).version == 1
    assert Transaction.objects.count() == before + 1


def test_on_sqlite_the_snapshot_refuses_writes_and_the_connection_writes_again_after(alice: User) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's query_only pragma")
    with ledger_snapshot():
        with pytest.raises(DatabaseError, match="readonly"), connection.cursor() as cursor:
            cursor.execute("UPDATE wallets_wallet SET balance = balance")
    services.wallet_top_up(user=alice, amount="1")


def test_on_sqlite_the_snapshot_leaves_the_write_lock_to_the_writers(alice: User, bob: User) -> None:
    # The project opens transactions with BEGIN IMMEDIATE (the write lock at
    # once). The auditor's read transaction must not be one: another
    # connection can still begin its write transaction while the audit reads.
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's transaction modes")
    began = threading.Event()

    def begin_a_write_transaction() -> None:
        with transaction.atomic():
            began.set()

    with ledger_snapshot():
        assert Wallet.objects.count() == 2
        assert race([begin_a_write_transaction]) == [None]
    assert began.is_set()


def test_inside_a_transaction_already_open_the_callers_transaction_is_the_snapshot(alice: User) -> None:
    with transaction.atomic():
        Wallet.objects.filter(user=alice).update(balance=7)
        with ledger_snapshot():
            assert Wallet.objects.get(user=alice).balance == 7  # the caller's own uncommitted write
        assert connection.in_atomic_block
        transaction.set_rollback(True)
    assert Wallet.objects.get(user=alice).balance == 1000
