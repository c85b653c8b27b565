"""A worker SIGKILLed mid-task (PostgreSQL): after a restart the task runs to completion, its side effect once.

Real processes: ``manage.py db_worker`` subprocesses against the test
database, the outbox task enqueued by a real transfer, the receipt sent by the
``file`` SMS backend (one file per message). Every process started here is
stopped by its own pid.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs.models import Delivery
from jobs.outbox import outbox_enqueue
from tests.jobs.tasks import receipt_send_slowly
from tests.support import live
from wallets import services
from wallets.models import User

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class WorkerProcess:
    def __init__(self, tmp_path: Path, worker_id: str) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": live.tests_database_url(),
            "PAYLANE_SMS_BACKEND": "file",
            "PAYLANE_SMS_FILE_PATH": str(tmp_path / "sms"),
            # Quick enough for a test: a beat a second, dead after two silent seconds, retried a second later.
            "PAYLANE_JOBS_HEARTBEAT": "1s",
            "PAYLANE_JOBS_WORKER_TIMEOUT": "2s",
            "PAYLANE_JOBS_RETRY_DELAY": "1s",
        }
        self.log = tmp_path / f"{worker_id}.log"
        command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*command, "--worker-id", worker_id], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Callable[[str], WorkerProcess]]:
    started: list[WorkerProcess] = []

    def start(worker_id: str) -> WorkerProcess:
        started.append(WorkerProcess(tmp_path, worker_id))
        return started[-1]

    yield start
    for worker in started:
        worker.stop()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout} s")


def sms_sent(folder: Path, to: str) -> list[str]:
    """The receipts (the test's side effect) sent to ``to``; the service's own alerts go there too."""
    return [
        message
        for path in sorted(folder.glob("*.json"))
        if (message := json.loads(path.read_text()))["to"] == to and message["body"].startswith("Paylane receipt")
    ]


@pytest.mark.parametrize("stall", ["before_send", "after_record"])
def test_a_task_whose_worker_was_killed_runs_again_to_completion_and_delivers_once(
    stall: str, register: Callable[..., User], workers: Callable[[str], WorkerProcess], tmp_path: Path
) -> None:
    alice, bob = register("alice", balance="100.00"), register("bob")
    mobile = bob.profile.mobile_number or ""
    marker = tmp_path / "stalled"
    entry = services.transfer_create(
        sender=alice,
        to_user_id=bob.pk,
        amount="25.00",
        on_recorded=lambda entry, refusal: outbox_enqueue(
            receipt_send_slowly, entry_id=entry.pk, to=mobile, stall=stall, marker=str(marker)
        ),
    )
    (task,) = DBTaskResult.objects.filter(task_path__endswith="receipt_send_slowly")

    first = workers("first")
    wait_for(marker.exists, f"the first worker stalling {stall}\n{first.output()}")
    first.kill()
    task.refresh_from_db()
    assert task.status == TaskResultStatus.RUNNING and task.worker_ids == ["first"]
    assert len(sms_sent(tmp_path / "sms", mobile)) == (1 if stall == "after_record" else 0)

    second = workers("second")

    def finished() -> bool:
        task.refresh_from_db()
        return bool(task.status == TaskResultStatus.SUCCESSFUL)

    wait_for(finished, f"the task finishing on the second worker\n{second.output()}")
    assert task.worker_ids == ["first", "second"]  # two attempts: the killed one counted
    assert "attempt 1 of 8 failed (jobs.worker.WorkerLost)" in second.output()
    # Exactly once in effect: one receipt, one delivery record.
    (receipt,) = sms_sent(tmp_path / "sms", mobile)
    assert receipt["body"] == f"Paylane receipt for ledger entry {entry.pk}."
    receipts = Delivery.objects.filter(key__startswith="test-receipt:")
    assert list(receipts.values_list("key", flat=True)) == [f"test-receipt:{entry.pk}"]
    assert task.return_value is (stall == "before_send")  # the second run sent it, or found it sent
