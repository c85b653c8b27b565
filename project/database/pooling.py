"""PgBouncer's transaction mode: the web processes' timeouts, set in each transaction.

Behind PgBouncer in transaction mode a client keeps a server connection for
one transaction only, so session state set on it would stay behind for the
next client (or be lost): ``-c lock_timeout=...`` connection options are
refused by PgBouncer, and a plain ``SET`` would leak to whoever draws that
server connection next, a management command included. With
``PAYLANE_DB_TRANSACTION_POOLING=1`` a web process's connections instead get
``SET LOCAL lock_timeout ...; SET LOCAL statement_timeout ...`` as the first
statement of every transaction (``transaction.atomic``: every money
movement, ``ledger_snapshot``), which PostgreSQL forgets at COMMIT or
ROLLBACK. ``SET LOCAL`` takes no snapshot, so a ``SET TRANSACTION ISOLATION
LEVEL`` after it (``ledger_snapshot``) still works.

Statements run outside a transaction (autocommit: a token lookup, a history
page) are one-statement transactions with no room for ``SET LOCAL``: they get
what the server connection has, the role's or the database's default. The
cluster sets ``statement_timeout`` on the web role (``ALTER ROLE ... SET``) or
PgBouncer's ``query_timeout`` for them (docs/scaling.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg.pq import TransactionStatus


def transaction_timeouts_sql() -> str:
    """The SET LOCAL statements (values validated by the settings: digits and a unit)."""
    return "; ".join(
        f"SET LOCAL {name} = '{value}'" for name, value in settings.PAYLANE_DB_TRANSACTION_TIMEOUTS.items()
    )


def transaction_timeouts(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    """An execute wrapper: before the statement that opens a transaction, set the timeouts in it."""
    wrapper = context["connection"]
    raw = wrapper.connection  # the psycopg connection
    if (
        settings.PAYLANE_DB_TRANSACTION_TIMEOUTS
        and raw is not None
        and not raw.autocommit
        and raw.info.transaction_status == TransactionStatus.IDLE
    ):
        # psycopg sends BEGIN before this, the transaction's first statement. Errors as Django's
        # (OperationalError for a dropped connection), as the statement itself would raise them.
        with wrapper.wrap_database_errors:
            context["cursor"].cursor.execute(transaction_timeouts_sql())
    return execute(sql, params, many, context)


def transaction_timeouts_install(sender: object, connection: BaseDatabaseWrapper, **kwargs: object) -> None:
    """``connection_created`` receiver: PostgreSQL connections of a web process under transaction pooling."""
    if connection.vendor != "postgresql" or not settings.PAYLANE_DB_TRANSACTION_TIMEOUTS:
        return
    if transaction_timeouts not in connection.execute_wrappers:
        connection.execute_wrappers.append(transaction_timeouts)
