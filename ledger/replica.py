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

Here, in the floor, because the ledger's own read-only tools use it too.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

_replica_reads: ContextVar[bool] = ContextVar("paylane_replica_reads", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


def replica_alias() -> str:
    """The alias read-only work reads: ``replica`` when there is one, else ``default``."""
    return REPLICA if replica_configured() else DEFAULT_DB_ALIAS


def replica_reads_active() -> bool:
    return _replica_reads.get()


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads in this block (in this thread or task) may be served by the replica."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)
