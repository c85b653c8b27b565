"""``ReplicaRouter``: read-only work reads the replica, everything else the primary (``default``).

A read goes to ``replica`` only when all three hold: the alias is configured
(``DATABASE_REPLICA_URL``), the code asked for it (``ledger.replica.replica_reads()``:
history, statements, exports, ``verify_ledger``, the admin's audit), and
``default`` is not inside a transaction (a read that is part of a money
movement, or any read after a write in the same transaction, must see that
transaction). Writes, locks (``select_for_update()`` is a write query to
Django) and migrations: ``default`` only.
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Model

from ledger.replica import read_alias


class ReplicaRouter:
    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        return read_alias()

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool:
        # One database seen twice: a row read from the replica may be related to one from default.
        return True

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS
