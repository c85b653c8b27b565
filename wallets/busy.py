"""A money movement that waits too long for the database is refused as ``Busy``, with nothing changed.

PostgreSQL ends a statement that waited ``lock_timeout`` for a row lock
(SQLSTATE 55P03) or ran ``statement_timeout`` (57014) with an error, and the
durable transaction around it rolls back; SQLite gives up after its busy
timeout with "database is locked". Each becomes ``Busy`` (503 ``busy`` on the
API, a form error on the pages): a client may retry, with its Idempotency-Key.

The same block turns a lost database connection (or a server that refuses writes) into ``DatabaseUnavailable``
(503 ``database_unavailable``, ``wallets.database_unavailable``): the pages and
the API then answer it as a refusal, but one whose outcome is unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import InterfaceError, InternalError, OperationalError

from wallets.database_unavailable import is_connection_lost
from wallets.errors import Busy, DatabaseUnavailable

logger = logging.getLogger(__name__)

_TIMEOUT_SQLSTATES = frozenset({"55P03", "57014"})


def is_timeout(exc: BaseException) -> bool:
    cause = exc.__cause__
    if getattr(cause, "sqlstate", None) in _TIMEOUT_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc)


@contextmanager
def busy_on_timeout() -> Iterator[None]:
    """A lock or statement timeout inside the block becomes ``Busy``; a lost connection ``DatabaseUnavailable``."""
    try:
        yield
    except (OperationalError, InterfaceError, InternalError) as exc:  # InternalError: a write refused, 25006
        if is_timeout(exc):
            raise Busy() from exc
        if is_connection_lost(exc):
            logger.warning("database connection lost: %r", exc)
            raise DatabaseUnavailable() from exc
        raise
