"""The transactional outbox: a side effect of a money movement is a task row written with its ledger row.

The domain calls ``outbox_enqueue`` inside the transaction that appends the
ledger row. The task backend is django-tasks-db, whose ``enqueue`` is an INSERT
on the same database connection, made at once (never deferred to
``on_commit``): the task row commits with the ledger row or rolls back with it.
So a crash after COMMIT loses no side effect (the row is there for a worker),
and a rollback sends none (there is no row). ``transaction.on_commit`` would
lose the side effect of a process that dies between COMMIT and the callback.

Delivery is at least once: a worker that dies mid-task has its task run again
(``jobs.worker``). So a task delivers through ``deliver_once`` with a key made
of the kind of side effect and the ledger id (``delivery_key``): a run that
finds the key recorded delivers nothing. The record is written after the side
effect succeeds; a worker killed between the two delivers again on the retry
(at least once, never zero times).

How to add a side effect: docs/operations.md, "Jobs".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.db.models.signals import pre_save
from django.tasks import Task, TaskResult
from django.utils import timezone
from django.utils.json import normalize_json
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from jobs.models import Delivery


def outbox_enqueue(task: Task, /, *args: Any, **kwargs: Any) -> TaskResult:
    """Enqueue ``task(*args, **kwargs)`` in the caller's open transaction (call it there, not ``on_commit``).

    Transaction: the caller's, which must be open. Writes: one task row. The
    task must be idempotent and name its de-duplication key (``deliver_once``).
    """
    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        # Any other backend hands the task to something outside the transaction.
        raise ImproperlyConfigured(f"the outbox needs django-tasks-db's DatabaseBackend, not {type(backend).__name__}")
    connection = transaction.get_connection(DBTaskResult.objects.db)
    if not connection.in_atomic_block:
        raise RuntimeError("outbox_enqueue runs inside the transaction that writes what the task reports")
    return task.enqueue(*args, **kwargs)


@dataclass(frozen=True)
class OutboxRow:
    """A task row as ``outbox_enqueue`` would insert it, for a statement of the caller's own."""

    table: str  # quoted
    columns: list[str]  # quoted, in the order of ``fields`` and ``params``
    fields: list[str]  # field names
    params: list[Any]  # each column's value, prepared for the connection


def outbox_row(task: Task, /, **kwargs: Any) -> OutboxRow:
    """The row ``outbox_enqueue(task, **kwargs)`` would insert on the default connection, not inserted.

    For a caller that writes the row inside a statement of its own, in the
    transaction that writes what the task reports, when a value of the task's
    arguments is known only inside that statement: the one-statement transfer
    (``wallets.transfer_function``) writes its ledger id in. The task is
    validated as ``enqueue`` validates it and ``pre_save`` runs as for
    ``save()``; no ``task_enqueued`` signal is sent (nothing here listens to
    it). Transaction and writes: none.
    """
    backend = task.get_backend()
    if not isinstance(backend, DatabaseBackend):
        raise ImproperlyConfigured(f"the outbox needs django-tasks-db's DatabaseBackend, not {type(backend).__name__}")
    backend.validate_task(task)
    row: DBTaskResult[Any, Any] = DBTaskResult(
        id=backend._get_id(),
        args_kwargs=normalize_json({"args": [], "kwargs": kwargs}),
        priority=task.priority,
        task_path=task.module_path,
        queue_name=task.queue_name,
        run_after=task.run_after,  # type: ignore[misc]  # None: pre_save fills it, as in django-tasks-db
        backend_name=backend.alias,
    )
    connection = transaction.get_connection(DBTaskResult.objects.db)
    # What ``save()`` would run first: django-tasks-db's receiver fills ``run_after``.
    pre_save.send(sender=DBTaskResult, instance=row, raw=False, using=connection.alias, update_fields=None)
    quote = connection.ops.quote_name
    fields = list(DBTaskResult._meta.concrete_fields)
    return OutboxRow(
        table=quote(DBTaskResult._meta.db_table),
        columns=[quote(field.column) for field in fields],
        fields=[field.name for field in fields],
        params=[field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields],
    )


def delivery_key(kind: str, ledger_id: int) -> str:
    """The de-duplication key of one kind of side effect of one ledger row, e.g. ``transfer-alert:1234``."""
    return f"{kind}:{ledger_id}"


def deliver_once(*, key: str, send: Callable[[], object]) -> bool:
    """Call ``send()`` unless a delivery of ``key`` is recorded, then record it. True if it sent.

    Transaction: none held across ``send`` (it may be a slow call to a
    provider). Writes: one ``Delivery`` row after ``send`` returns. If ``send``
    raises, nothing is recorded and the exception propagates (the worker
    retries the task with backoff).
    """
    if Delivery.objects.filter(key=key).exists():
        return False
    send()
    try:
        with transaction.atomic():
            Delivery.objects.create(key=key, delivered_at=timezone.now())
    except IntegrityError:
        pass  # another run of the same task recorded it first (a worker presumed dead was not)
    return True
