"""The one task the scheduler enqueues: run a periodic job for its period, and record the outcome."""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import mail_admins
from django.tasks import task
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.models import PeriodicRun
from jobs.schedule import job_get

logger = logging.getLogger(__name__)


@task
def periodic_run(*, job: str, run_id: int) -> dict[str, Any]:
    """Run ``job`` for the period of ``PeriodicRun`` ``run_id``; its summary, as also stored on the run.

    At least once, like every task: a run already finished is not run again,
    and a run overtaken by a later one of the same job (the worker was away for
    a period or more) is SKIPPED: the later run does the work. An exception
    leaves the run unfinished and fails the attempt (the worker retries it).
    """
    run = PeriodicRun.objects.filter(pk=run_id, job=job).first()
    if run is None or run.finished_at is not None:
        return {"ok": True, "message": "already finished"}
    if PeriodicRun.objects.filter(job=job, due_at__gt=run.due_at).exists():
        summary: dict[str, Any] = {"ok": True, "message": "a later run of this job was already due"}
        _finish(run, PeriodicRun.Outcome.SKIPPED, summary)
        return summary
    PeriodicRun.objects.filter(pk=run.pk).update(started_at=timezone.now())
    summary = import_string(job_get(job).call)() or {}
    if summary.get("ok", True):
        _finish(run, PeriodicRun.Outcome.OK, summary)
        return summary
    _finish(run, PeriodicRun.Outcome.FAILED, summary)
    message = f"Periodic job {job} (due {run.due_at:%Y-%m-%d %H:%M} UTC) failed: {summary.get('message', summary)}"
    logger.error("%s", message)
    try:
        mail_admins(f"{job} failed", message)
    except Exception as mail_error:  # the log line above stands
        logger.warning("could not mail ADMINS about %s: %r", job, type(mail_error).__name__)
    return summary


def _finish(run: PeriodicRun, outcome: str, summary: dict[str, Any]) -> None:
    PeriodicRun.objects.filter(pk=run.pk).update(finished_at=timezone.now(), outcome=outcome, summary=summary)
