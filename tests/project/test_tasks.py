"""The service's task backend (project/tasks.py): tasks run on worker threads, after enqueue returned."""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.tasks import task
from django.tasks.base import TaskResultStatus

from project import tasks

THREADS = {"default": {"BACKEND": "project.tasks.ThreadBackend", "OPTIONS": {"WORKERS": 1}}}

ran: list[tuple[str, str]] = []
gate = threading.Event()


@task
def note(word: str) -> str:
    ran.append((word, threading.current_thread().name))
    return word


@task
def wait_for_the_gate() -> None:
    if not gate.wait(30):
        raise TimeoutError("the gate never opened")
    ran.append(("through", threading.current_thread().name))


@task
def explode() -> None:
    raise RuntimeError("this task fails")


@pytest.fixture
def on_threads(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    settings.TASKS = THREADS
    monkeypatch.setattr(tasks, "_instance", None)  # a pool of its own, of one worker (the first sizes it)
    ran.clear()
    gate.clear()
    yield
    gate.set()
    assert tasks.flush(10)


def test_the_service_runs_after_the_answer_work_on_its_thread_backend_and_the_outbox_on_the_database() -> None:
    configured = importlib.import_module("project.settings").TASKS
    assert configured["threads"]["BACKEND"] == "project.tasks.ThreadBackend"
    assert configured["default"]["BACKEND"] == "django_tasks_db.DatabaseBackend"


def test_a_task_runs_on_a_worker_thread_after_enqueue_returned_in_the_order_enqueued(on_threads: None) -> None:
    wait_for_the_gate.enqueue()
    first, second = note.enqueue("one"), note.enqueue("two")
    # enqueue returned while the worker is held at the gate: nothing after it has run.
    assert ran == []
    assert first.status == second.status == TaskResultStatus.READY
    gate.set()
    assert tasks.flush(10)
    assert [word for word, _ in ran] == ["through", "one", "two"]
    assert {thread for _, thread in ran} == {"paylane-tasks-0"}
    assert (first.status, first.return_value, second.return_value) == (TaskResultStatus.SUCCESSFUL, "one", "two")


def test_a_task_that_raises_is_logged_and_the_next_one_still_runs(
    on_threads: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="django.tasks"):
        failed = explode.enqueue()
        after = note.enqueue("after")
        assert tasks.flush(10)
    assert failed.status == TaskResultStatus.FAILED
    assert "this task fails" in caplog.text
    assert after.return_value == "after"


def test_a_full_backlog_drops_a_task_with_a_warning_instead_of_waiting(caplog: pytest.LogCaptureFixture) -> None:
    pool = tasks._Pool(workers=1, max_backlog=1)
    started, held, waited = threading.Event(), threading.Event(), threading.Event()

    def hold() -> None:
        started.set()
        held.wait(30)

    pool.submit("hold", hold)
    assert started.wait(10)  # the worker holds the first job
    pool.submit("waits", waited.set)  # the one place in the backlog
    with caplog.at_level(logging.WARNING, logger="project.tasks"):
        pool.submit("dropped", lambda: ran.append(("dropped", "")))
    assert "task backlog full (1 waiting): dropped dropped" in caplog.text
    held.set()
    assert pool.flush(10) and waited.is_set()
    assert ("dropped", "") not in ran
