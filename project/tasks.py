"""Work done after the answer: Django's Tasks framework, run on a few threads of each process.

Security alerts by SMS (``wallets.accounts.alerts``) and password-reset codes
(``wallets.accounts.passwords``) are Django ``@task`` functions; ``TASKS`` in the
settings says what runs them:

* ``ThreadBackend`` (this module; the service's default): each process keeps a
  queue and ``WORKERS`` daemon threads that run its tasks in the order they came,
  after ``enqueue`` has returned. The request that enqueued neither waits for a
  task nor fails with it: a slow or failing SMS provider delays or loses an
  alert, never a payment or a sign-in. A task's outcome is logged by Django
  (the ``django.tasks`` logger: ERROR with its traceback when it raised).
* ``django.tasks.backends.immediate.ImmediateBackend`` (the test suite's
  default, tests/conftest.py): at once, on the caller's thread.
* A job queue with a worker process, stored tasks and retries (the operations
  issue): change ``TASKS`` and nothing else. The tasks take plain JSON
  arguments and never a secret, so they may be stored.

What this backend does not do, on purpose (a worker will): it stores nothing,
so tasks still waiting when a process stops are lost; it retries nothing; and
it cannot stop a task that never returns (Python cannot kill a thread). Such a
task holds one worker for good while the others go on, so a task that calls
out (an SMS provider) must bound its own wait, e.g. with its HTTP client's
timeout (docs/api.md, "Messages to phones"). At most ``MAX_BACKLOG`` tasks
wait per process; beyond that a task is dropped with a warning rather than
queued without bound.

Each task runs between two ``close_old_connections()``, as a request does, so
a worker never keeps a database connection past its ``CONN_MAX_AGE`` (with
PostgreSQL's pool: it goes back to the pool after each task).
"""

from __future__ import annotations

import logging
import os
import queue
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from django.db import close_old_connections
from django.tasks.backends.immediate import ImmediateBackend
from django.tasks.base import Task, TaskResult, TaskResultStatus

logger = logging.getLogger(__name__)

DEFAULT_WORKERS = 2
DEFAULT_MAX_BACKLOG = 10_000


class ThreadBackend(ImmediateBackend):
    """Runs each task on one of this process's worker threads, after ``enqueue`` returned (see the module).

    ImmediateBackend's bookkeeping (the result's status, Django's task signals
    and their log lines) is reused as it is; only *when* and *on which thread*
    differ. ``OPTIONS``: ``WORKERS`` (default 2), ``MAX_BACKLOG`` (default 10000).
    """

    def __init__(self, alias: str, params: dict[str, Any]) -> None:
        super().__init__(alias, params)
        self.workers = int(self.options.get("WORKERS", DEFAULT_WORKERS))
        self.max_backlog = int(self.options.get("MAX_BACKLOG", DEFAULT_MAX_BACKLOG))

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:  # type: ignore[override]
        self.validate_task(task)
        result: TaskResult = TaskResult(
            task=task,
            # One urandom read: get_random_string(32) reads it 32 times (most of an enqueue's cost).
            id=secrets.token_urlsafe(24),
            status=TaskResultStatus.READY,
            enqueued_at=None,
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )
        _pool(workers=self.workers, max_backlog=self.max_backlog).submit(task.module_path, lambda: self._run(result))
        return result

    def _run(self, result: TaskResult) -> None:
        _connections_tidy()
        try:
            self._execute_task(result)  # type: ignore[attr-defined]
        finally:
            _connections_tidy()


def _connections_tidy() -> None:
    """``close_old_connections()``; its failure must not cost the task (an alert needs no database)."""
    try:
        close_old_connections()
    except Exception as exc:  # a broken connection is replaced when a task next uses the database
        logger.warning("task worker: old database connections not closed: %s", type(exc).__name__)


class _Pool:
    """One queue and ``workers`` daemon threads per process; the first backend to ask sizes it."""

    def __init__(self, *, workers: int, max_backlog: int) -> None:
        self.pid = os.getpid()
        self.queue: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=max_backlog)
        self.threads = [
            threading.Thread(target=self._work, name=f"paylane-tasks-{number}", daemon=True)
            for number in range(max(1, workers))
        ]
        for thread in self.threads:
            thread.start()

    def alive(self) -> bool:
        return self.pid == os.getpid() and all(thread.is_alive() for thread in self.threads)

    def submit(self, name: str, job: Callable[[], None]) -> None:
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            logger.warning("task backlog full (%d waiting): %s dropped", self.queue.qsize(), name)

    def _work(self) -> None:
        while True:
            job = self.queue.get()
            try:
                job()
            except Exception:  # ImmediateBackend's bookkeeping records a task's own errors; this is anything else
                logger.exception("task runner failed")
            finally:
                self.queue.task_done()

    def flush(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True


_instance: _Pool | None = None
_lock = threading.Lock()


def _pool(*, workers: int, max_backlog: int) -> _Pool:
    global _instance
    pool = _instance
    if pool is None or not pool.alive():
        with _lock:
            pool = _instance
            # A forked child inherits the object but not its threads: it starts its own.
            if pool is None or not pool.alive():
                pool = _instance = _Pool(workers=workers, max_backlog=max_backlog)
    return pool


def flush(timeout: float = 5.0) -> bool:
    """Wait until every task enqueued so far on this process has run (tests, shutdown); False on timeout."""
    pool = _instance
    return pool is None or pool.pid != os.getpid() or pool.flush(timeout)
