"""The worker: django-tasks-db's, plus what it lacks for at-least-once delivery.

django-tasks-db claims a task by setting it RUNNING and records the worker's id
on it; a worker killed mid-task leaves it RUNNING for ever, and a task that
raises is FAILED for good. Here:

* **Heartbeats.** Each worker writes its ``WorkerBeat`` row when it starts and
  then every ``PAYLANE_JOBS_HEARTBEAT`` from a thread of its own, so a worker
  busy with a long task still beats. The database's clock stamps the beats, so
  workers on several hosts compare one clock.
* **Recovery.** Every worker, as it starts and then every half
  ``PAYLANE_JOBS_WORKER_TIMEOUT``, puts back the tasks RUNNING on a worker
  whose beat is older than the timeout (``tasks_recover``): that worker is
  gone, and the task never finished. A worker that starts takes back at once
  the tasks its own id left RUNNING (a restart under a fixed ``--worker-id``).
* **Retries.** A failed attempt (the task raised, or its worker died) goes back
  to READY with ``run_after`` pushed back by ``PAYLANE_JOBS_RETRY_DELAY``,
  doubled at each attempt (at most an hour, with jitter so that a burst of
  failures does not retry in step); after ``PAYLANE_JOBS_MAX_ATTEMPTS``
  attempts it is FAILED, logged at ERROR and mailed to ``ADMINS``.

Attempts are counted as Django counts them (``TaskResult.attempts``): the
worker ids the row has recorded, one per claim, a dead worker's included.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from datetime import timedelta
from traceback import format_exception

from django.conf import settings
from django.core.mail import mail_admins
from django.db import close_old_connections, connection, transaction
from django.db.models.functions import Now
from django.tasks import TaskContext, TaskResultStatus
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

from jobs.models import WorkerBeat

logger = logging.getLogger(__name__)

MAX_RETRY_DELAY = timedelta(hours=1)


class WorkerLost(Exception):
    """The worker running a task stopped beating before the task finished (killed, crashed, cut off)."""


def retry_delay(attempt: int) -> timedelta:
    """How long after failed attempt number ``attempt`` (1, 2, ...) the next one may start."""
    first: timedelta = settings.PAYLANE_JOBS_RETRY_DELAY
    delay = min(first * 2 ** (attempt - 1), MAX_RETRY_DELAY)
    # Jitter: a burst of failures (a provider down) does not come back in step.
    return delay * random.uniform(0.5, 1.0)


def attempt_failed(result: DBTaskResult, exc: BaseException) -> bool:
    """Settle an attempt of ``result`` that failed with ``exc``: READY again later, or FAILED for good.

    Transaction: one UPDATE, only while the row is still RUNNING (a row another
    worker already took back is left alone). True if it will be retried.
    """
    attempts = len(result.worker_ids)
    error_path = f"{type(exc).__module__}.{type(exc).__qualname__}"
    fields = {"exception_class_path": error_path, "traceback": "".join(format_exception(exc))}
    running = DBTaskResult.objects.filter(pk=result.pk, status=TaskResultStatus.RUNNING)
    if attempts < settings.PAYLANE_JOBS_MAX_ATTEMPTS:
        delay = retry_delay(attempts)
        running.update(status=TaskResultStatus.READY, run_after=timezone.now() + delay, **fields)
        logger.warning(
            "task id=%s path=%s attempt %d of %d failed (%s); retrying in %.0f s",
            result.pk,
            result.task_path,
            attempts,
            settings.PAYLANE_JOBS_MAX_ATTEMPTS,
            error_path,
            delay.total_seconds(),
        )
        return True
    running.update(status=TaskResultStatus.FAILED, finished_at=timezone.now(), return_value=None, **fields)
    _give_up_loudly(result, attempts=attempts, error_path=error_path)
    return False


def _give_up_loudly(result: DBTaskResult, *, attempts: int, error_path: str) -> None:
    # The task's arguments stay out of the log and the mail: the row in the admin has them.
    message = (
        f"Background task {result.task_path} (id {result.pk}) failed {attempts} time(s) and will not be "
        f"retried. Last error: {error_path}. Its row (django-tasks-db, status FAILED) has the traceback; "
        "enqueue it again once the cause is fixed (its side effects are de-duplicated)."
    )
    logger.error("%s", message)
    try:
        mail_admins(f"Background task given up: {result.task_path}", message)
    except Exception as mail_error:  # the mail server is down too: the log line above stands
        logger.warning("could not mail ADMINS about task id=%s: %r", result.pk, type(mail_error).__name__)


def tasks_recover(*, orphans_of: str | None = None) -> int:
    """Put back the tasks RUNNING on workers that stopped beating (or on ``orphans_of``, a restarted worker id).

    Transaction: one short one per task, its row locked (``SELECT … FOR
    UPDATE``) and checked again: a task that finished or was taken back by
    another worker meanwhile is left alone. Each counts as a failed attempt
    (``attempt_failed``: retried after backoff, or given up). Returns how many.
    """
    running = list(DBTaskResult.objects.running().values_list("pk", "worker_ids"))
    if not running:
        return 0
    alive = set(
        WorkerBeat.objects.filter(beat_at__gte=Now() - settings.PAYLANE_JOBS_WORKER_TIMEOUT).values_list(
            "worker_id", flat=True
        )
    )
    recovered = 0
    for pk, worker_ids in running:
        worker = worker_ids[-1] if worker_ids else ""
        if worker != orphans_of and worker in alive:
            continue
        with transaction.atomic():
            row = DBTaskResult.objects.select_for_update().filter(pk=pk, status=TaskResultStatus.RUNNING).first()
            if row is None or row.worker_ids != worker_ids:
                continue
            attempt_failed(row, WorkerLost(f"worker {worker or '?'} stopped before the task finished"))
            recovered += 1
    return recovered


def beat(worker_id: str, *, starting: bool = False) -> None:
    """Write ``worker_id``'s heartbeat, stamped by the database's clock (``starting``: a new process)."""
    if not starting and WorkerBeat.objects.filter(pk=worker_id).update(beat_at=Now()):
        return
    # A new process, or a row pruned under a worker that was cut off for a day: (re)write it whole.
    WorkerBeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"host": socket.gethostname()[:255], "pid": os.getpid(), "started_at": Now(), "beat_at": Now()},
    )


class Heartbeat:
    """A daemon thread that beats for ``worker_id`` and sweeps for dead workers' tasks until ``stop()``."""

    def __init__(self, worker_id: str) -> None:
        self.worker_id = worker_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{worker_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        interval = settings.PAYLANE_JOBS_HEARTBEAT.total_seconds()
        sweep_every = settings.PAYLANE_JOBS_WORKER_TIMEOUT.total_seconds() / 2
        since_sweep = 0.0
        try:
            while not self._stop.wait(interval):
                since_sweep += interval
                try:
                    beat(self.worker_id)
                    if since_sweep >= sweep_every:
                        since_sweep = 0.0
                        tasks_recover()
                except Exception:
                    # The database is away: the next beat tries again (others may take back our task meanwhile).
                    logger.warning("worker %s: heartbeat failed", self.worker_id, exc_info=True)
                    close_old_connections()
        finally:
            connection.close()


class Worker(db_worker.Worker):
    """django-tasks-db's worker with heartbeats, recovery and retries (see the module's docstring).

    ``heartbeat=False`` beats once at the start and runs no thread: for tests
    that run a worker inside the test process.
    """

    def __init__(self, *, heartbeat: bool = True, **options: object) -> None:
        super().__init__(**options)  # type: ignore[arg-type]
        self.heartbeat = heartbeat

    def run(self) -> None:
        beat(self.worker_id, starting=True)
        tasks_recover(orphans_of=self.worker_id)
        tasks_recover()
        thread = Heartbeat(self.worker_id) if self.heartbeat else None
        if thread is not None:
            thread.start()
        try:
            super().run()
        finally:
            if thread is not None:
                thread.stop()
            close_old_connections()
            # A clean exit: nothing of ours is RUNNING, and the beat is not needed to tell.
            WorkerBeat.objects.filter(pk=self.worker_id).delete()

    def run_task(self, db_task_result: DBTaskResult) -> None:
        """django-tasks-db's ``run_task``, except that a failure with attempts left is retried, not FAILED."""
        self.running_task = True
        try:
            task = db_task_result.task
            task_result = db_task_result.task_result
            task_started.send(sender=type(task.get_backend()), task_result=task_result)
            if task.takes_context:
                context: TaskContext = TaskContext(task_result=task_result)
                value = task.call(context, *task_result.args, **task_result.kwargs)
            else:
                value = task.call(*task_result.args, **task_result.kwargs)
            # Inside the try, as django-tasks-db does: a value that cannot be stored is a failure too.
            db_task_result.set_successful(value)
        except BaseException as exc:  # SystemExit too: a worker stopped mid-task retries the task
            if not attempt_failed(db_task_result, exc):
                db_task_result.refresh_from_db()
                self._finished(db_task_result)
        else:
            self._finished(db_task_result)
        finally:
            self.running_task = False
            self._run_tasks += 1

    @staticmethod
    def _finished(db_task_result: DBTaskResult) -> None:
        try:
            sender = type(db_task_result.task.get_backend())
        except Exception:  # the task's function is gone: nothing to tell listeners about
            return
        task_finished.send(sender=sender, task_result=db_task_result.task_result)
