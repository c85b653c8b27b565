"""Reads for operators and ``/metrics``: the last outcome of a periodic job, the queue's state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Min
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs.models import PeriodicRun


def periodic_last(job: str) -> PeriodicRun | None:
    """The latest finished run of ``job`` that did the work (OK or FAILED, not SKIPPED), or None.

    For ``/metrics``' "last verify_ledger result and time": ``periodic_last("verify_ledger")``,
    then ``.outcome == PeriodicRun.Outcome.OK`` and ``.finished_at``. One indexed query.
    """
    return (
        PeriodicRun.objects.filter(job=job, finished_at__isnull=False)
        .exclude(outcome=PeriodicRun.Outcome.SKIPPED)
        .order_by("-finished_at")
        .first()
    )


def periodic_failures(job: str) -> int:
    """How many kept runs of ``job`` failed (runs are kept ``PAYLANE_JOBS_KEEP``)."""
    return PeriodicRun.objects.filter(job=job, outcome=PeriodicRun.Outcome.FAILED).count()


@dataclass(frozen=True)
class QueueState:
    ready: int
    running: int
    failed: int  # given up, kept PAYLANE_JOBS_KEEP
    oldest_ready_enqueued_at: datetime | None


def queue_state() -> QueueState:
    """Tasks waiting (READY, due or not), running, and given up; when the oldest waiting one was enqueued."""
    ready = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    return QueueState(
        ready=ready.count(),
        running=DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).count(),
        failed=DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).count(),
        oldest_ready_enqueued_at=ready.aggregate(at=Min("enqueued_at"))["at"],
    )
