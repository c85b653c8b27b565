"""SQLite: refuse an INSERT that would replace a row of an append-only table.

``INSERT OR REPLACE`` / ``REPLACE INTO`` resolves a conflict on the primary key
or a UNIQUE column by deleting the row it meets, and SQLite fires no DELETE
trigger for that delete (unless the connection turned ``recursive_triggers``
on): an old row rewritten in the shape of an insert. Each append-only table gets
a BEFORE INSERT trigger that refuses an insert meeting an existing row on any of
its unique keys. An UPSERT (``ON CONFLICT … DO UPDATE``) fires the UPDATE
trigger already; this one refuses it earlier.

PostgreSQL needs nothing here: it has no REPLACE, the primary key refuses a
plain re-insert, and ``INSERT … ON CONFLICT DO UPDATE`` and ``MERGE`` fire the
UPDATE and DELETE row triggers of migration 0003/0004.

The SQL is frozen here as this migration applies it (``ledger/sql/`` holds the
current definitions, re-applied by ``post_migrate``).
"""

from django.db import migrations

from ledger.migration_operations import VendorSQL

SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_replace
    BEFORE INSERT ON ledger_transaction
    WHEN EXISTS (SELECT 1 FROM ledger_transaction WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: an INSERT that meets an existing row of ledger_transaction on its primary key or a UNIQUE column is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_seal_no_replace
    BEFORE INSERT ON ledger_seal
    WHEN EXISTS (
        SELECT 1 FROM ledger_seal
        WHERE id = NEW.id OR after_id = NEW.after_id OR prev_hash = NEW.prev_hash OR seal_hash = NEW.seal_hash
    )
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: an INSERT that meets an existing row of ledger_seal on its primary key or a UNIQUE column is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_dailylimitchange_no_replace
    BEFORE INSERT ON ledger_dailylimitchange
    WHEN EXISTS (SELECT 1 FROM ledger_dailylimitchange WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: an INSERT that meets an existing row of ledger_dailylimitchange on its primary key or a UNIQUE column is refused');
END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS ledger_transaction_no_replace",
    "DROP TRIGGER IF EXISTS ledger_seal_no_replace",
    "DROP TRIGGER IF EXISTS ledger_dailylimitchange_no_replace",
]


class Migration(migrations.Migration):
    dependencies = [("ledger", "0005_admin_filter_indexes")]

    operations = [
        VendorSQL(postgresql=([], []), sqlite=(SQLITE, SQLITE_REVERSE)),
    ]
