"""The ledger is append-only for everyone: ORM, admin and raw SQL."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import ProtectedError

from ledger import triggers
from ledger.models import AppendOnlyError, Seal, Transaction
from ledger.services import ledger_seal
from wallets import reversals, services
from wallets.models import User

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def entry(register: Callable[..., User]) -> Transaction:
    alice, bob = register("alice", balance="100"), register("bob")
    return services.transfer_create(sender=alice, to_user_id=bob.pk, amount="40")


def raw(sql: str, params: list[object] | None = None) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def rows() -> list[tuple[object, ...]]:
    return list(Transaction.objects.order_by("id").values_list("id", "amount", "status", "receiver_id"))


def test_the_triggers_exist_after_migrate() -> None:
    assert triggers.installed(connection, "ledger_transaction") >= triggers.expected(
        connection.vendor, "ledger_transaction"
    )


def test_triggers_come_back_after_a_migration_that_rebuilds_the_table() -> None:
    # A later migration that rebuilds the table (SQLite's ALTER path) drops its
    # triggers; post_migrate re-applies them.
    triggers.uninstall(connection, "ledger_transaction")
    call_command("migrate", verbosity=0)
    assert triggers.installed(connection, "ledger_transaction") >= triggers.expected(
        connection.vendor, "ledger_transaction"
    )


def test_raw_sql_update_is_refused(entry: Transaction) -> None:
    before = rows()
    with pytest.raises(DatabaseError, match="append-only"):
        raw("UPDATE ledger_transaction SET amount = 1 WHERE id = %s", [entry.pk])
    assert rows() == before


def test_raw_sql_delete_is_refused(entry: Transaction) -> None:
    before = rows()
    with pytest.raises(DatabaseError, match="append-only"):
        raw("DELETE FROM ledger_transaction")
    assert rows() == before


@pytest.mark.postgres
def test_raw_sql_truncate_is_refused_on_postgresql(entry: Transaction) -> None:
    before = rows()
    with pytest.raises(DatabaseError, match="append-only"):
        raw("TRUNCATE ledger_transaction CASCADE")
    assert rows() == before


def test_orm_queryset_update_and_delete_are_refused(entry: Transaction) -> None:
    before = rows()
    with pytest.raises(AppendOnlyError):
        Transaction.objects.filter(pk=entry.pk).update(amount=1)
    with pytest.raises(AppendOnlyError):
        Transaction.objects.all().delete()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    entry.amount = 1
    with pytest.raises(AppendOnlyError):
        entry.save()
    assert rows() == before


def test_the_trigger_holds_even_when_the_orm_guard_is_bypassed(entry: Transaction) -> None:
    before = rows()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        # QuerySet._raw_delete and base-class update skip the model's guards.
        Transaction.objects.filter(pk=entry.pk)._raw_delete(connection.alias)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        super(type(Transaction.objects.all()), Transaction.objects.all()).update(amount=2)
    assert rows() == before


def test_deleting_a_user_with_ledger_rows_is_refused_and_keeps_every_row(entry: Transaction) -> None:
    before = rows()
    sender = User.objects.get(pk=entry.sender_id)
    with pytest.raises(ProtectedError):
        sender.delete()
    with pytest.raises(IntegrityError):
        raw("DELETE FROM wallets_user WHERE id = %s", [entry.sender_id])
    assert rows() == before
    assert User.objects.filter(pk=entry.sender_id).exists()


def test_a_user_without_ledger_rows_can_be_deleted(register: Callable[..., User]) -> None:
    lurker = register("lurker")
    lurker.delete()
    assert not User.objects.filter(username="lurker").exists()


# --- Seals and daily-limit changes carry the same triggers ------------------------------------


@pytest.fixture
def audit_rows(entry: Transaction) -> None:
    assert ledger_seal().seals
    sender = User.objects.get(pk=entry.sender_id)
    services.wallet_set_daily_limit(wallet=sender.wallet, daily_limit=None, actor=sender)
    services.wallet_set_daily_limit(wallet=sender.wallet, daily_limit=Decimal("5.00"), actor=sender)
    # A staff reversal proposed and refused: one row in each of its two tables.
    ops = User.objects.create_superuser(username="ops", password="a long staff passphrase")
    lead = User.objects.create_superuser(username="lead", password="a long staff passphrase")
    proposal = reversals.reversal_propose(actor=ops, entry_id=entry.pk, reason="duplicate")
    reversals.reversal_refuse(actor=lead, proposal_id=proposal.pk, reason="delivered")


@pytest.mark.parametrize("table", ["ledger_seal", "ledger_dailylimitchange"])
def test_seals_and_limit_changes_refuse_raw_update_and_delete(audit_rows: None, table: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        count = cursor.fetchone()[0]
    assert count >= 1
    with pytest.raises(DatabaseError, match="append-only"):
        raw(f"UPDATE {table} SET id = id")
    with pytest.raises(DatabaseError, match="append-only"):
        raw(f"DELETE FROM {table}")
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"):
            raw(f"TRUNCATE {table} CASCADE")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        assert cursor.fetchone()[0] == count


def test_seal_rows_refuse_orm_changes(audit_rows: None) -> None:
    seal = Seal.objects.get()
    seal.row_count = 99
    with pytest.raises(AppendOnlyError):
        seal.save()
    with pytest.raises(AppendOnlyError):
        Seal.objects.all().delete()
    assert Seal.objects.get().row_count != 99


# --- A re-insert over an existing row: REPLACE, UPSERT ----------------------------------------


def table_rows(table: str) -> list[tuple[object, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table} ORDER BY id")
        return list(cursor.fetchall())


def reinsert(table: str, how: str, *, select: str = "*", key: str = "id") -> str:
    """SQL that inserts a copy of ``table``'s first row over it (``how``: replace or upsert)."""
    copy = f"SELECT {select} FROM {table} WHERE id = (SELECT MIN(id) FROM {table})"
    if how == "upsert":  # both backends; SQLite's parser needs the WHERE the copy already has
        return f"INSERT INTO {table} {copy} ON CONFLICT ({key}) DO UPDATE SET {key} = excluded.{key}"
    # SQLite's REPLACE; PostgreSQL has none, and its nearest, a plain re-insert, meets the primary key.
    return f"INSERT OR REPLACE INTO {table} {copy}" if connection.vendor == "sqlite" else f"INSERT INTO {table} {copy}"


@pytest.mark.parametrize("how", ["replace", "upsert"])
def test_a_reinsert_of_an_existing_ledger_id_is_refused_and_the_row_is_unchanged(entry: Transaction, how: str) -> None:
    # Before the no-replace trigger, SQLite's INSERT OR REPLACE turned a 40.00
    # row into 999999.00 without firing the UPDATE or DELETE trigger.
    columns = [field.column for field in Transaction._meta.concrete_fields]
    forged = ", ".join("999999.00" if column == "amount" else column for column in columns)
    sql = reinsert("ledger_transaction", how, select=forged).replace(
        "INTO ledger_transaction ", f"INTO ledger_transaction ({', '.join(columns)}) "
    )
    before = table_rows("ledger_transaction")
    with pytest.raises(DatabaseError):
        raw(sql)
    assert table_rows("ledger_transaction") == before
    assert Transaction.objects.get(pk=entry.pk).amount == Decimal("40.00")


@pytest.mark.parametrize("how", ["replace", "upsert"])
@pytest.mark.parametrize("table", triggers.APPEND_ONLY_TABLES)
def test_every_append_only_table_refuses_a_reinsert_over_an_existing_row(
    audit_rows: None, table: str, how: str
) -> None:
    before = table_rows(table)
    with pytest.raises(DatabaseError):
        raw(reinsert(table, how))
    assert table_rows(table) == before


@pytest.mark.parametrize("how", ["replace", "upsert"])
def test_a_seal_cannot_be_replaced_through_a_unique_column_either(audit_rows: None, how: str) -> None:
    # A fresh id, the same after_id: REPLACE would delete the old seal to make room.
    columns = [field.column for field in Seal._meta.concrete_fields if field.column != "id"]
    sql = reinsert("ledger_seal", how, select=", ".join(columns), key="after_id").replace(
        "INTO ledger_seal ", f"INTO ledger_seal ({', '.join(columns)}) "
    )
    before = table_rows("ledger_seal")
    with pytest.raises(DatabaseError):
        raw(sql)
    assert table_rows("ledger_seal") == before


@pytest.mark.parametrize("table", triggers.APPEND_ONLY_TABLES)
def test_the_no_replace_trigger_covers_every_unique_key_of_its_table(table: str) -> None:
    with connection.cursor() as cursor:
        constraints = connection.introspection.get_constraints(cursor, table)
    unique = [tuple(c["columns"]) for c in constraints.values() if c["unique"] or c["primary_key"]]
    assert all(len(columns) == 1 for columns in unique), unique  # the trigger matches single columns
    assert {columns[0] for columns in unique} == set(triggers.REPLACE_KEYS[table])
