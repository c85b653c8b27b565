"""Read-only work may read a streaming standby: the ``replica`` database alias, when configured.

``DATABASE_REPLICA_URL`` adds the alias (project/settings.py). Code that only
reads, and whose reads may be served by the standby (history, statements,
exports, ``verify_ledger``, the admin's audit), says so: ``replica_reads()``
around the work, or ``queryset.using(replica_alias())`` for a queryset read
after the block has ended (a streamed response). The project's router
(``project.database.routers``) sends a read made inside ``replica_reads()``
to the replica unless ``default`` is inside a transaction (a money
movement's reads stay in its own transaction). Writes always go to
``default``. Without a replica everything reads ``default``, as before.

Read-your-writes: the cluster's standby is synchronous with
``synchronous_commit = remote_apply`` (docs/scaling.md): a transaction's
COMMIT returns only once the standby has applied it, so a read there after a
201 sees that transfer.

A replica that cannot be reached is not an outage: its reads go to ``default`` for
``REPLICA_RETRY_SECONDS`` (logged), then it is tried again.

Here, in the floor, because the ledger's own read-only tools use it too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections

logger = logging.getLogger(__name__)

REPLICA = "replica"
# After the replica could not be reached, read from default for this long before trying it again.
REPLICA_RETRY_SECONDS = 30.0
_replica_down_until = 0.0

_replica_reads: ContextVar[bool] = ContextVar("paylane_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_alias() -> str:
    """The alias for a read-only queryset read later (a streamed response, after the view has
    returned): where ``replica_reads()`` would send a read made now (``read_alias``)."""
    token = _replica_reads.set(True)
    try:
        return read_alias()
    finally:
        _replica_reads.reset(token)


def replica_reads_active() -> bool:
    return _replica_reads.get()


def read_alias() -> str:
    """Where a read made now goes (the router's rule, for raw SQL too): ``replica`` inside
    ``replica_reads()`` when there is one, ``default`` is not inside a transaction and the replica
    can be reached; else ``default``."""
    if (
        _replica_reads.get()
        and replica_configured()
        and not connections[DEFAULT_DB_ALIAS].in_atomic_block
        and _replica_reachable()
    ):
        return REPLICA
    return DEFAULT_DB_ALIAS


def _replica_reachable() -> bool:
    """False while the replica is known unreachable: its reads go to ``default`` instead of failing.

    A connection that cannot be opened (standby down, pool timeout) marks it so for
    ``REPLICA_RETRY_SECONDS`` in this process; then the next read tries it again. Connected
    already: no round trip here.
    """
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    try:
        connections[REPLICA].ensure_connection()
    except DatabaseError as exc:
        _replica_down_until = time.monotonic() + REPLICA_RETRY_SECONDS
        logger.warning("replica unreachable, reading from default for %.0f s: %r", REPLICA_RETRY_SECONDS, exc)
        return False
    return True


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads in this block (in this thread or task) may be served by the replica."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)
