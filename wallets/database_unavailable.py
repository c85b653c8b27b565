"""A database connection that dies under a request is ``DatabaseUnavailable`` (503), not a 500.

The primary killed, a PgBouncer "server conn crashed?" (SQLSTATE 08P01), an
operator's ``pg_terminate_backend`` (57P01): Django raises its
``OperationalError`` or ``InterfaceError`` around psycopg's. They are told
apart from the lock and statement timeouts (``wallets.busy``: 55P03, 57014,
SQLite's "database is locked"), which roll back and answer ``busy``, and from
other operational errors (a missing table is a bug: 500).

The outcome of a request whose connection died is unknown: the kill may land
after the server committed and before the answer came back. The API therefore
says so and asks for a retry with the same Idempotency-Key
(``wallets.idempotency``): the key's record is written in the money
transaction itself, so the retry replays it if that committed, and runs the
movement once if it did not.
"""

from __future__ import annotations

from django.db import InterfaceError, OperationalError

# Class 08 (connection exception, incl. PgBouncer's 08P01), the server shutting down or the
# backend terminated (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now),
# and a server with no connection slot left (53300).
_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def is_connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is Django's error for a database connection that died or could not be made."""
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith("08") or sqlstate in _LOST_SQLSTATES
    if isinstance(exc, InterfaceError):
        return True  # "connection already closed": the same request touching the dead connection again
    # A socket that dies mid-query has no SQLSTATE in psycopg ("server closed the connection
    # unexpectedly", "consuming input failed"); SQLite's errors are never about a lost connection.
    return cause is not None and type(cause).__module__.startswith("psycopg")
