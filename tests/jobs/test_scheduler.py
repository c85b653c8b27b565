"""The scheduler: each periodic job enqueued once per period, however many schedulers run at once."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs.models import PeriodicRun
from jobs.scheduler import periodic_tick
from jobs.tasks import periodic_run
from tests.jobs.support import work_off
from tests.racing import race
from tests.support import live

ROOT = Path(__file__).resolve().parents[2]
JOBS = {"seal_ledger", "verify_ledger", "prune_idempotency_keys", "prune_codes", "prune_jobs", "expire_requests"}
T = datetime(2026, 3, 1, 10, 0, 30, tzinfo=UTC)


def enqueued() -> Counter[tuple[str, datetime]]:
    """(job, period) of every periodic task row in the queue."""
    runs = dict(PeriodicRun.objects.values_list("pk", "due_at"))
    return Counter(
        (kwargs["job"], runs[kwargs["run_id"]])
        for kwargs in (row["kwargs"] for row in DBTaskResult.objects.values_list("args_kwargs", flat=True))
    )


@pytest.mark.django_db
def test_a_tick_enqueues_each_job_whose_period_began_and_no_other() -> None:
    assert {run.job for run in periodic_tick(now=T)} == JOBS
    assert periodic_tick(now=T + timedelta(seconds=20)) == []  # same minute, same hour, same day
    assert [run.job for run in periodic_tick(now=T + timedelta(seconds=40))] == ["seal_ledger"]  # 10:01:10
    hour = periodic_tick(now=T + timedelta(hours=1))
    assert sorted(run.job for run in hour) == ["expire_requests", "seal_ledger", "verify_ledger"]
    day = periodic_tick(now=T + timedelta(days=1))
    assert {run.job for run in day} == JOBS
    # Every run is one task row of its own: 6 + 1 + 3 + 6.
    assert sum(enqueued().values()) == DBTaskResult.objects.count() == 16
    assert set(enqueued().values()) == {1}
    verify = PeriodicRun.objects.get(job="verify_ledger", due_at=datetime(2026, 3, 1, 11, tzinfo=UTC))
    assert verify.enqueued_at is not None and verify.finished_at is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_schedulers_racing_on_separate_connections_enqueue_each_job_once_per_period() -> None:
    for offset in (timedelta(0), timedelta(minutes=1), timedelta(hours=1, minutes=1)):
        results = race([partial(periodic_tick, now=T + offset) for _ in range(4)])
        assert not [r for r in results if isinstance(r, BaseException)], results
    counts = enqueued()
    assert set(counts.values()) == {1}
    assert len(counts) == 6 + 1 + 3  # 10:00 all six, 10:01 seal, 11:01 seal, verify and expire_requests
    assert PeriodicRun.objects.count() == DBTaskResult.objects.count() == 10


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_scheduler_processes_started_together_enqueue_each_job_once() -> None:
    env = {**os.environ, "DATABASE_URL": live.tests_database_url()}
    command = [sys.executable, "manage.py", "paylane_scheduler", "--once"]
    processes = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    counts = enqueued()
    assert set(counts.values()) == {1}
    assert {job for job, _ in counts} == JOBS
    # Each run was enqueued by exactly one of them (the other's INSERT lost, or it found the row).
    lines = [line for out, _ in outputs for line in out.splitlines() if line.startswith("enqueued ")]
    assert len(lines) == len(counts)


@pytest.mark.django_db
def test_a_run_overtaken_by_a_later_one_of_its_job_is_skipped_and_the_later_one_does_the_work() -> None:
    (early,) = [r for r in periodic_tick(now=T) if r.job == "prune_codes"]
    (late,) = [r for r in periodic_tick(now=T + timedelta(days=1)) if r.job == "prune_codes"]

    assert periodic_run.call(job="prune_codes", run_id=early.pk)["message"] == "a later run of this job was already due"
    assert periodic_run.call(job="prune_codes", run_id=late.pk) == {"ok": True, "deleted": 0}

    early.refresh_from_db()
    late.refresh_from_db()
    assert (early.outcome, late.outcome) == (PeriodicRun.Outcome.SKIPPED, PeriodicRun.Outcome.OK)
    assert late.started_at is not None and late.finished_at is not None


@pytest.mark.django_db
def test_a_run_that_finished_is_not_run_again_when_its_task_is_delivered_twice() -> None:
    (run,) = [r for r in periodic_tick(now=T) if r.job == "prune_jobs"]
    periodic_run.call(job="prune_jobs", run_id=run.pk)
    run.refresh_from_db()
    finished_at = run.finished_at

    assert periodic_run.call(job="prune_jobs", run_id=run.pk)["message"] == "already finished"
    run.refresh_from_db()
    assert run.finished_at == finished_at


@pytest.mark.django_db(transaction=True)
def test_the_worker_runs_what_the_scheduler_enqueued() -> None:
    periodic_tick()
    work_off()
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {TaskResultStatus.SUCCESSFUL}
    assert dict(PeriodicRun.objects.values_list("job", "outcome")) == dict.fromkeys(JOBS, PeriodicRun.Outcome.OK)
