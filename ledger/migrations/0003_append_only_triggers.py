"""Install the append-only triggers on the ledger.

The SQL is frozen here as this migration applies it (docs/audit.md, "Migrations
are history"): ``ledger/sql/`` holds the *current* definitions, which
``post_migrate`` re-applies, and editing them never changes what this did.
"""

from __future__ import annotations

from django.db import migrations

from ledger.migration_operations import VendorSQL

POSTGRESQL = [
    # One function for every append-only table; TRUNCATE fires no row trigger,
    # so it gets a statement trigger of its own.
    """CREATE OR REPLACE FUNCTION paylane_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$""",
    """CREATE OR REPLACE TRIGGER ledger_transaction_append_only
    BEFORE UPDATE OR DELETE ON ledger_transaction
    FOR EACH ROW EXECUTE FUNCTION paylane_refuse_change()""",
    """CREATE OR REPLACE TRIGGER ledger_transaction_no_truncate
    BEFORE TRUNCATE ON ledger_transaction
    FOR EACH STATEMENT EXECUTE FUNCTION paylane_refuse_change()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_transaction_append_only ON ledger_transaction",
    "DROP TRIGGER IF EXISTS ledger_transaction_no_truncate ON ledger_transaction",
]

SQLITE = [
    # SQLite has no TRUNCATE (its "truncate optimisation" is skipped when a DELETE trigger exists).
    """CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_update
    BEFORE UPDATE ON ledger_transaction
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE on ledger_transaction is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_delete
    BEFORE DELETE ON ledger_transaction
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE on ledger_transaction is refused');
END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_transaction_no_update",
    "DROP TRIGGER IF EXISTS ledger_transaction_no_delete",
]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_initial")]

    operations = [
        VendorSQL(postgresql=(POSTGRESQL, POSTGRESQL_REVERSE), sqlite=(SQLITE, SQLITE_REVERSE)),
    ]
