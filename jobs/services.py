"""Writes of the jobs app that are not the worker's or the scheduler's: pruning what they keep."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import OuterRef, Subquery
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from jobs.models import Delivery, PeriodicRun, WorkerBeat


def jobs_prune() -> dict[str, Any]:
    """Delete what the jobs keep past ``PAYLANE_JOBS_KEEP``: finished tasks, periodic runs, delivery records.

    Also the beats of workers silent for a day. The latest run of each periodic job
    that did its work is kept whatever its age (``jobs.selectors.periodic_last``). A delivery
    record must outlive every retry of its task: retries end within hours, the
    record is kept for days. Transaction: one DELETE each. Locks: none.
    Returns how many of each went (a periodic job's summary).
    """
    cutoff = timezone.now() - settings.PAYLANE_JOBS_KEEP
    # What django-tasks-db's prune_db_task_results deletes, on every queue: SUCCESSFUL and FAILED rows.
    tasks, _ = DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).delete()
    latest = (
        PeriodicRun.objects.filter(job=OuterRef("job"), finished_at__isnull=False)
        .exclude(outcome=PeriodicRun.Outcome.SKIPPED)
        .order_by("-finished_at")
    )
    runs, _ = (
        PeriodicRun.objects.filter(enqueued_at__lt=cutoff).exclude(pk__in=Subquery(latest.values("pk")[:1])).delete()
    )
    deliveries, _ = Delivery.objects.filter(delivered_at__lt=cutoff).delete()
    beats, _ = WorkerBeat.objects.filter(beat_at__lt=timezone.now() - timedelta(days=1)).delete()
    return {"tasks": tasks, "periodic_runs": runs, "deliveries": deliveries, "worker_beats": beats}
