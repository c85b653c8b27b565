"""What /metrics reads: the last periodic run that did its work, and the queue's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs.models import PeriodicRun
from jobs.scheduler import periodic_tick
from jobs.selectors import periodic_last, queue_state
from jobs.tasks import periodic_run
from tests.jobs.tasks import always_fails

pytestmark = pytest.mark.django_db

T = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)


def verify_run(now: datetime) -> PeriodicRun:
    """The verify_ledger run a tick at ``now`` enqueued."""
    return next(run for run in periodic_tick(now=now) if run.job == "verify_ledger")


def test_the_last_run_of_a_job_is_the_latest_that_did_its_work_not_one_skipped() -> None:
    assert periodic_last("verify_ledger") is None
    early = verify_run(T)
    periodic_run.call(job="verify_ledger", run_id=early.pk)
    late = verify_run(T + timedelta(hours=1))
    older = verify_run(T - timedelta(hours=1))
    periodic_run.call(job="verify_ledger", run_id=older.pk)  # overtaken: SKIPPED, finished last

    assert PeriodicRun.objects.get(pk=older.pk).outcome == PeriodicRun.Outcome.SKIPPED
    assert periodic_last("verify_ledger") == early
    periodic_run.call(job="verify_ledger", run_id=late.pk)
    assert periodic_last("verify_ledger") == late


def test_the_queue_state_counts_waiting_running_and_given_up_tasks() -> None:
    assert queue_state().ready == 0 and queue_state().oldest_ready_enqueued_at is None
    first = always_fails.enqueue()
    always_fails.enqueue()
    running = always_fails.enqueue()
    failed = always_fails.enqueue()
    DBTaskResult.objects.filter(pk=running.id).update(status=TaskResultStatus.RUNNING)
    DBTaskResult.objects.filter(pk=failed.id).update(status=TaskResultStatus.FAILED)

    state = queue_state()
    assert (state.ready, state.running, state.failed) == (2, 1, 1)
    assert state.oldest_ready_enqueued_at == DBTaskResult.objects.get(pk=first.id).enqueued_at
