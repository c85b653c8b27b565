"""Running the worker inside the test process (``transaction=True`` tests: it commits as it goes)."""

from __future__ import annotations

from datetime import timedelta

from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from jobs.worker import Worker


def work_off(*, worker_id: str = "test-worker") -> None:
    """Run every task that is due, as ``manage.py db_worker --batch`` does, then return."""
    Worker(
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=worker_id,
        excluded_queue_names=[],
        heartbeat=False,
    ).run()


def make_due(result_id: str) -> None:
    """Move a waiting retry's ``run_after`` into the past: its backoff has gone by."""
    DBTaskResult.objects.filter(pk=result_id, status=TaskResultStatus.READY).update(
        run_after=timezone.now() - timedelta(seconds=1)
    )
