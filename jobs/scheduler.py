"""The scheduler: enqueue each periodic job once per period, however many schedulers run.

``periodic_tick`` inserts one ``PeriodicRun`` row per job and period and, in
the same transaction, enqueues its task. The row's unique key (job, period
start) decides between schedulers: on PostgreSQL a second INSERT of the same
key waits for the first transaction and then fails; on SQLite writers take
turns (``IMMEDIATE``) and the second finds the row. Only the winner's task row
commits, so two schedulers (two hosts, or a restart overlapping the old
process) enqueue each run once. A scheduler that was down enqueues the current
period of each job when it comes back, not the periods it missed.

Written here, not taken from a library: django-crontask's lock between
schedulers is Redis (without it, none), and django-periodic-tasks needs Python
3.13 (this service runs on 3.12 too) and keeps its schedule in the database
for the admin to edit; the unique row per period is all the safety needed
(docs/operations.md, "Periodic work").
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from jobs.models import PeriodicRun
from jobs.schedule import jobs_scheduled, period_start
from jobs.tasks import periodic_run

logger = logging.getLogger(__name__)


def periodic_tick(*, now: datetime | None = None) -> list[PeriodicRun]:
    """Enqueue every job whose current period has no run yet; the runs this call enqueued.

    Transaction: one, durable, per job enqueued (its ``PeriodicRun`` row and its
    task row). Locks: the unique index entry of (job, period) only.
    """
    now = now or timezone.now()
    enqueued = []
    for job in jobs_scheduled():
        due_at = period_start(now, job.every)
        if PeriodicRun.objects.filter(job=job.name, due_at=due_at).exists():
            continue
        try:
            with transaction.atomic(durable=True):
                run = PeriodicRun.objects.create(job=job.name, due_at=due_at, enqueued_at=timezone.now())
                periodic_run.enqueue(job=job.name, run_id=run.pk)
        except IntegrityError:
            continue  # another scheduler's row won: it enqueued this period's run
        logger.info("enqueued %s for %s", job.name, due_at.isoformat())
        enqueued.append(run)
    return enqueued
