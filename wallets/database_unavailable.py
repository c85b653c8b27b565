"""A database connection that dies under a request is ``DatabaseUnavailable`` (503), not a 500.

The primary killed, a PgBouncer "server conn crashed?" (SQLSTATE 08P01), an
operator's ``pg_terminate_backend`` (57P01): Django raises its
``OperationalError`` or ``InterfaceError`` around psycopg's. They are told
apart from the lock and statement timeouts (``wallets.busy``: 55P03, 57014,
SQLite's "database is locked"), which roll back and answer ``busy``, and from
other operational errors (a missing table is a bug: 500).

A server that is no longer the primary refuses writes with SQLSTATE 25006
(``read_only_sql_transaction``): a primary demoted in a failover (Patroni
restarts it as a standby) still reached through a route that has not moved
yet, or a database an operator set read-only. psycopg raises it as an
``InternalError``. For the client it is the same as a lost connection: the
write did not happen, try again in a moment, when the route reaches the new
primary. (Without it, a write in that window was a 500.)

The outcome of a request whose connection died is unknown: the kill may land
after the server committed and before the answer came back. The API therefore
says so and asks for a retry with the same Idempotency-Key
(``wallets.idempotency``): the key's record is written in the money
transaction itself, so the retry replays it if that committed, and runs the
movement once if it did not.
"""

from __future__ import annotations

from django.db import InterfaceError, InternalError, OperationalError

# Class 08 (connection exception, incl. PgBouncer's 08P01), the server shutting down or the
# backend terminated (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now),
# and a server with no connection slot left (53300).
_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
# A server in recovery, or set read-only, refusing a write (25006 read_only_sql_transaction).
_READ_ONLY_SQLSTATE = "25006"


def is_connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is Django's error for a database connection that died or could not be made,
    or for a server that refuses writes (not the primary any more)."""
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None)
    if isinstance(exc, InternalError):
        return sqlstate == _READ_ONLY_SQLSTATE
    if not isinstance(exc, OperationalError | InterfaceError):
        return False
    if sqlstate:
        return sqlstate.startswith("08") or sqlstate in _LOST_SQLSTATES
    if isinstance(exc, InterfaceError):
        return True  # "connection already closed": the same request touching the dead connection again
    # A socket that dies mid-query has no SQLSTATE in psycopg ("server closed the connection
    # unexpectedly", "consuming input failed"); SQLite's errors are never about a lost connection.
    return cause is not None and type(cause).__module__.startswith("psycopg")
