"""The periodic jobs, as ``PAYLANE_PERIODIC_JOBS`` lists them, and the period each run belongs to.

A job is a function (a dotted path: the jobs app imports nothing of the
domain) called with no arguments. It returns None or a JSON-able dict, its
summary; ``"ok": False`` in it marks the run FAILED (logged at ERROR, mailed to
``ADMINS``), and ``"message"`` says why in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Job:
    name: str
    call: str
    every: timedelta


def jobs_scheduled() -> list[Job]:
    """Every periodic job of ``PAYLANE_PERIODIC_JOBS``, checked."""
    jobs = []
    for name, spec in settings.PAYLANE_PERIODIC_JOBS.items():
        every = spec["every"]
        if not isinstance(every, timedelta) or every < timedelta(seconds=1) or len(name) > 64:
            raise ImproperlyConfigured(f"PAYLANE_PERIODIC_JOBS[{name!r}]: a name of 64 characters at most, every >= 1s")
        jobs.append(Job(name=name, call=str(spec["call"]), every=every))
    return jobs


def job_get(name: str) -> Job:
    for job in jobs_scheduled():
        if job.name == name:
            return job
    raise ImproperlyConfigured(f"no periodic job {name!r} in PAYLANE_PERIODIC_JOBS")


def period_start(now: datetime, every: timedelta) -> datetime:
    """The start of the period of length ``every`` that ``now`` falls in, counted from the Unix epoch (UTC).

    Every scheduler computes the same value from any clock reading within the
    period, whatever its time zone: a daily job's period starts at 00:00 UTC.
    """
    step = int(every.total_seconds())
    return datetime.fromtimestamp(int(now.timestamp()) // step * step, tz=UTC)
