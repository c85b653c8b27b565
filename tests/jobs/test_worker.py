"""The worker: failed attempts retried with backoff and then given up loudly; a dead worker's tasks taken back."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.core.management import get_commands
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from jobs.models import WorkerBeat
from jobs.worker import tasks_recover
from tests.jobs.support import make_due, work_off
from tests.jobs.tasks import always_fails, fails_then_succeeds

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _policy(settings: Any) -> None:
    settings.PAYLANE_JOBS_MAX_ATTEMPTS = 3
    settings.PAYLANE_JOBS_RETRY_DELAY = timedelta(seconds=10)
    settings.PAYLANE_JOBS_WORKER_TIMEOUT = timedelta(seconds=30)
    settings.ADMINS = ["ops@example.com"]
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def waits_between(result: DBTaskResult, low: float, high: float) -> bool:
    """Is ``result`` READY with its next attempt ``low``..``high`` seconds from now?"""
    result.refresh_from_db()
    wait = (result.run_after - timezone.now()).total_seconds()
    return result.status == TaskResultStatus.READY and low - 1 <= wait <= high


def running_on(worker_ids: list[str]) -> DBTaskResult:
    """A task some worker claimed (RUNNING), with the attempts of ``worker_ids``."""
    task_id = always_fails.enqueue().id
    DBTaskResult.objects.filter(pk=task_id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now(), worker_ids=worker_ids
    )
    return DBTaskResult.objects.get(pk=task_id)


def beat_at(worker_id: str, seconds_ago: float) -> None:
    at = timezone.now() - timedelta(seconds=seconds_ago)
    WorkerBeat.objects.create(worker_id=worker_id, host="test", pid=1, started_at=at, beat_at=at)


def test_a_failing_task_is_retried_with_doubling_backoff_then_given_up_loudly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = DBTaskResult.objects.get(pk=always_fails.enqueue().id)

    work_off()
    assert waits_between(result, 5, 10)  # attempt 1 failed: 10 s, less up to half of it (jitter)
    assert result.exception_class_path == "tests.jobs.tasks.Flaky" and "always" in result.traceback
    make_due(result.pk)
    work_off()
    assert waits_between(result, 10, 20)  # attempt 2: doubled
    assert len(result.worker_ids) == 2
    assert not mail.outbox

    make_due(result.pk)
    with caplog.at_level(logging.ERROR, logger="jobs.worker"):
        work_off()

    result.refresh_from_db()
    assert result.status == TaskResultStatus.FAILED and len(result.worker_ids) == 3
    assert result.finished_at is not None
    given_up = [r for r in caplog.records if r.name == "jobs.worker" and r.levelno == logging.ERROR]
    assert len(given_up) == 1 and "failed 3 time(s) and will not be retried" in given_up[0].getMessage()
    # (Django's default logging may mail its own ERROR line about the FAILED task as well.)
    (message,) = [
        m for m in mail.outbox if m.subject.endswith("Background task given up: tests.jobs.tasks.always_fails")
    ]
    assert message.to == ["ops@example.com"]
    # Given up means given up: no worker runs it again.
    work_off()
    result.refresh_from_db()
    assert result.status == TaskResultStatus.FAILED and len(result.worker_ids) == 3


def test_a_task_that_fails_once_succeeds_on_its_second_attempt() -> None:
    result = DBTaskResult.objects.get(pk=fails_then_succeeds.enqueue(failures=1).id)
    work_off()
    assert waits_between(result, 5, 10)
    make_due(result.pk)
    work_off()
    result.refresh_from_db()
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 2 and len(result.worker_ids) == 2
    assert not result.exception_class_path


def test_a_task_on_a_worker_that_stopped_beating_is_put_back_with_the_attempt_counted() -> None:
    beat_at("dead", seconds_ago=31)
    beat_at("alive", seconds_ago=2)
    lost = running_on(["dead"])
    busy = running_on(["alive"])
    unknown = running_on(["never-beat"])  # a worker whose beat row was pruned long ago

    assert tasks_recover() == 2

    for result in (lost, unknown):
        assert waits_between(result, 5, 10)
        assert result.exception_class_path == "jobs.worker.WorkerLost"
        assert len(result.worker_ids) == 1  # the dead worker's claim stays: one attempt used
    busy.refresh_from_db()
    assert busy.status == TaskResultStatus.RUNNING
    # Once it is due, the next worker runs it as attempt 2.
    make_due(lost.pk)
    work_off(worker_id="next")
    lost.refresh_from_db()
    assert lost.worker_ids == ["dead", "next"]


def test_a_task_whose_workers_died_on_every_attempt_is_given_up(caplog: pytest.LogCaptureFixture) -> None:
    beat_at("dead", seconds_ago=60)
    result = running_on(["w1", "w2", "dead"])
    with caplog.at_level(logging.ERROR, logger="jobs.worker"):
        assert tasks_recover() == 1
    result.refresh_from_db()
    assert result.status == TaskResultStatus.FAILED
    assert result.exception_class_path == "jobs.worker.WorkerLost"
    assert any("will not be retried" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)
    assert [m.to for m in mail.outbox if "Background task given up" in m.subject] == [["ops@example.com"]]


def test_a_restarted_worker_takes_back_what_its_own_id_left_running() -> None:
    beat_at("fixed-id", seconds_ago=1)  # the old process's beat is still fresh
    result = running_on(["fixed-id"])
    work_off(worker_id="fixed-id")
    assert waits_between(result, 5, 10)
    assert WorkerBeat.objects.filter(pk="fixed-id").count() == 0  # a clean exit removes the beat


def test_manage_py_db_worker_is_the_worker_with_heartbeats_recovery_and_retries() -> None:
    # django-tasks-db has a db_worker command too: the jobs app must come first in INSTALLED_APPS.
    assert get_commands()["db_worker"] == "jobs"
