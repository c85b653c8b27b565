"""One consistent, read-only view of the database for the auditor's tools.

``verify_ledger`` and the admin's per-user audit page compare figures that
one transfer changes together: a wallet's balance, version and daily counter,
and the ledger row that explains them. Read in separate statements while
transfers commit, they disagree for a moment and the tools cry wolf. Every
read they make therefore runs inside ``ledger_snapshot()``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from ledger.replica import read_alias


@contextmanager
def ledger_snapshot(*, using: str | None = None) -> Iterator[None]:
    """Run the block's reads in one read-only transaction that sees one committed state.

    Transaction: one, opened and committed here, that writes nothing. Locks:
    none on PostgreSQL; SQLite's shared lock (below). Side effects: none.

    * PostgreSQL: ``REPEATABLE READ, READ ONLY``. Every statement sees the
      snapshot taken as the block starts, so a transfer either shows in full
      (wallets and ledger row) or not at all; a write is refused. It takes no
      row lock and blocks no transfer.
    * SQLite: a *deferred* read transaction (``BEGIN DEFERRED``) under
      ``PRAGMA query_only``, not the project's ``transaction_mode`` IMMEDIATE.
      IMMEDIATE takes the write lock at BEGIN: an audit would wait for every
      writer before it starts and shut out every other writer, and every
      other audit, until it ends; a read posing as a write. A deferred
      transaction takes only the shared lock, at its first read (here, as the
      block starts), and keeps it to the end, which is what makes its reads one state. Transfers still
      begin while it runs; with the rollback journal (SQLite's default, used
      here) their COMMIT waits for the audit to end, up to the connection
      ``timeout``; in WAL mode it would not wait at all. ``query_only``
      makes the read-only promise hold on SQLite too.

    The snapshot is fixed as the block starts, not at its first read of its
    own: a clock read inside the block is never older than the data, so the
    "today" of the daily-limit check covers every row the block can see.

    ``using``: by default where reads go now (``ledger.replica.read_alias``): the
    replica inside ``replica_reads()`` (a standby takes ``REPEATABLE READ, READ
    ONLY`` transactions), else ``default``.

    Inside a transaction the caller already opened (the test suite's
    per-test transaction, or an outer ``ledger_snapshot``), the caller's
    transaction is the snapshot: its isolation can no longer be changed.
    """
    using = using or read_alias()
    connection = connections[using]
    if connection.in_atomic_block:
        yield
        return
    if connection.vendor == "postgresql":
        with transaction.atomic(using=using, durable=True):
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                cursor.execute("SELECT 1")  # the snapshot is taken by the first query: now
            yield
    elif connection.vendor == "sqlite":
        with _sqlite_deferred(connection), _sqlite_query_only(connection):
            yield
    else:
        raise NotImplementedError(f"No read snapshot for the {connection.vendor} backend.")


@contextmanager
def _sqlite_deferred(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """``transaction.atomic`` opened with ``BEGIN DEFERRED`` instead of the configured mode.

    Django reads ``transaction_mode`` only when it sends BEGIN, so the mode is
    swapped just for that statement; savepoints inside never read it.
    """
    connection.ensure_connection()
    configured = connection.transaction_mode  # type: ignore[attr-defined]
    connection.transaction_mode = "DEFERRED"  # type: ignore[attr-defined]
    try:
        with transaction.atomic(using=connection.alias, durable=True):
            connection.transaction_mode = configured  # type: ignore[attr-defined]
            yield
    finally:
        connection.transaction_mode = configured  # type: ignore[attr-defined]


@contextmanager
def _sqlite_query_only(connection: BaseDatabaseWrapper) -> Iterator[None]:
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA query_only = ON")
        # The shared lock (the snapshot) is taken by the first read of a table: now.
        cursor.execute("SELECT count(*) FROM sqlite_master")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA query_only = OFF")
