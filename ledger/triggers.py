"""Append-only triggers as they are *now*: the SQL lives beside this module, one file per backend.

``ledger/sql/<vendor>/append_only.sql`` installs, ``append_only_reverse.sql``
removes; ``{table}`` stands for the protected table and ``{same_key}`` for the
condition "a row with the same value on one of its unique keys"
(``REPLACE_KEYS``). Installing is idempotent (``CREATE OR REPLACE`` / ``IF NOT
EXISTS``), so ``post_migrate`` re-applies it: a later migration that rebuilds a
table on SQLite (which drops its triggers) cannot leave the ledger unprotected.

Migrations never read these files: each carries the SQL it applied, frozen in
the migration itself (``ledger/migrations/0003``, ``0004``, ``0006``), so
editing the files here changes what ``post_migrate`` applies from now on and
never what an old migration did.
"""

from __future__ import annotations

from pathlib import Path

import sqlparse
from django.db.backends.base.base import BaseDatabaseWrapper

SQL_DIR = Path(__file__).resolve().parent / "sql"

# Every table that must never see UPDATE, DELETE or TRUNCATE.
APPEND_ONLY_TABLES: list[str] = [
    "ledger_transaction",
    "ledger_seal",
    "ledger_dailylimitchange",
    "ledger_reversalproposal",
    "ledger_reversaldecision",
]

# Each table's primary key and UNIQUE columns: on SQLite, INSERT OR REPLACE
# deletes the row it meets on any of them without firing the DELETE trigger,
# so the no-replace trigger refuses an insert that meets one.
# tests/ledger/test_triggers.py checks this against the database's constraints.
REPLACE_KEYS: dict[str, tuple[str, ...]] = {
    "ledger_transaction": ("id",),
    "ledger_seal": ("id", "after_id", "prev_hash", "seal_hash"),
    "ledger_dailylimitchange": ("id",),
    "ledger_reversalproposal": ("id",),
    "ledger_reversaldecision": ("id", "closes_id", "reversal_id"),
}

SUPPORTED_VENDORS = ("postgresql", "sqlite")


def statements(vendor: str, name: str, table: str, *, keys: tuple[str, ...] | None = None) -> list[str]:
    """The SQL statements of ``sql/<vendor>/<name>.sql`` for ``table``.

    ``keys`` are the table's primary key and UNIQUE columns (the no-replace
    trigger's condition): the ledger's own tables find theirs in
    ``REPLACE_KEYS``; an app that protects a table of its own the same way
    passes them, so the ledger never needs to know that table.
    """
    if vendor not in SUPPORTED_VENDORS:
        raise NotImplementedError(f"No append-only triggers for the {vendor} backend.")
    text = (SQL_DIR / vendor / f"{name}.sql").read_text().replace("{table}", table)
    if "{same_key}" in text:
        same_key = " OR ".join(f"{column} = NEW.{column}" for column in (keys or REPLACE_KEYS[table]))
        text = text.replace("{same_key}", same_key)
    return [s.strip() for s in sqlparse.split(sqlparse.format(text, strip_comments=True)) if s.strip()]


def install(connection: BaseDatabaseWrapper, table: str, *, keys: tuple[str, ...] | None = None) -> None:
    with connection.cursor() as cursor:
        for sql in statements(connection.vendor, "append_only", table, keys=keys):
            cursor.execute(sql)


def uninstall(connection: BaseDatabaseWrapper, table: str) -> None:
    with connection.cursor() as cursor:
        for sql in statements(connection.vendor, "append_only_reverse", table):
            cursor.execute(sql)


def installed(connection: BaseDatabaseWrapper, table: str) -> set[str]:
    """Names of the enabled triggers on ``table`` (for tests and verify_ledger).

    On PostgreSQL a trigger switched off with ``ALTER TABLE … DISABLE TRIGGER``
    still exists but does not count.
    """
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [table])
        else:
            cursor.execute(
                "SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled IN ('O', 'A')",
                [table],
            )
        return {row[0] for row in cursor.fetchall()}


def expected(vendor: str, table: str) -> set[str]:
    """The triggers ``table`` must have on ``vendor`` (``verify_ledger`` reports any missing or disabled).

    PostgreSQL needs no no-replace trigger: it has no REPLACE, the primary key
    refuses a plain re-insert, and ``INSERT … ON CONFLICT DO UPDATE`` (like
    ``MERGE``) fires the UPDATE trigger.
    """
    if vendor == "sqlite":
        return {f"{table}_no_update", f"{table}_no_delete", f"{table}_no_replace"}
    return {f"{table}_append_only", f"{table}_no_truncate"}


def ensure_all(connection: BaseDatabaseWrapper) -> None:
    """Re-apply every append-only trigger whose table exists (post_migrate)."""
    tables = set(connection.introspection.table_names())
    for table in APPEND_ONLY_TABLES:
        if table in tables:
            install(connection, table)
