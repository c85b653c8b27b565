"""Append-only triggers as they are *now*: the SQL lives beside this module, one file per backend.

``ledger/sql/<vendor>/append_only.sql`` installs, ``append_only_reverse.sql``
removes; ``{table}`` stands for the protected table. Installing is idempotent
(``CREATE OR REPLACE`` / ``IF NOT EXISTS``), so ``post_migrate`` re-applies it:
a later migration that rebuilds a table on SQLite (which drops its triggers)
cannot leave the ledger unprotected.

Migrations never read these files: each carries the SQL it applied, frozen in
the migration itself (``ledger/migrations/0003``, ``0004``), so editing the
files here changes what ``post_migrate`` applies from now on and never what an
old migration did.
"""

from __future__ import annotations

from pathlib import Path

import sqlparse
from django.db.backends.base.base import BaseDatabaseWrapper

SQL_DIR = Path(__file__).resolve().parent / "sql"

# Every table that must never see UPDATE, DELETE or TRUNCATE.
APPEND_ONLY_TABLES: list[str] = ["ledger_transaction", "ledger_seal", "ledger_dailylimitchange"]

SUPPORTED_VENDORS = ("postgresql", "sqlite")


def statements(vendor: str, name: str, table: str) -> list[str]:
    """The SQL statements of ``sql/<vendor>/<name>.sql`` for ``table``."""
    if vendor not in SUPPORTED_VENDORS:
        raise NotImplementedError(f"No append-only triggers for the {vendor} backend.")
    text = (SQL_DIR / vendor / f"{name}.sql").read_text().replace("{table}", table)
    return [s.strip() for s in sqlparse.split(sqlparse.format(text, strip_comments=True)) if s.strip()]


def install(connection: BaseDatabaseWrapper, table: str) -> None:
    with connection.cursor() as cursor:
        for sql in statements(connection.vendor, "append_only", table):
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
    if vendor == "sqlite":
        return {f"{table}_no_update", f"{table}_no_delete"}
    return {f"{table}_append_only", f"{table}_no_truncate"}


def ensure_all(connection: BaseDatabaseWrapper) -> None:
    """Re-apply every append-only trigger whose table exists (post_migrate)."""
    tables = set(connection.introspection.table_names())
    for table in APPEND_ONLY_TABLES:
        if table in tables:
            install(connection, table)
