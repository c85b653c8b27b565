"""The periodic jobs do their work: seal, verify (and cry out when the ledger was tampered with), prune."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from jobs.models import Delivery, PeriodicRun, WorkerBeat
from jobs.scheduler import periodic_tick
from jobs.selectors import periodic_failures, periodic_last
from jobs.tasks import periodic_run
from ledger.models import Seal, Transaction
from ledger.services import ledger_seal
from tests.jobs.support import work_off
from tests.ledger.test_tamper import tamper
from tests.support.sms import last_code
from wallets import services
from wallets.accounts import codes
from wallets.models import IdempotencyKey, OneTimeCode, User


@pytest.fixture(autouse=True)
def _mail_to_admins(settings: Any) -> None:
    settings.ADMINS = ["ops@example.com"]
    settings.MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}


def run_job(job: str, *, now: datetime | None = None) -> PeriodicRun:
    """Schedule ``job``'s current period and run it as the worker would; its run, as recorded."""
    (run,) = [r for r in periodic_tick(now=now) if r.job == job]
    periodic_run.call(job=job, run_id=run.pk)
    run.refresh_from_db()
    return run


def test_seal_ledger_seals_what_has_committed_and_records_the_tip(alice: User, bob: User) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")

    run = run_job("seal_ledger")

    (seal,) = Seal.objects.all()
    assert seal.last_id == Transaction.objects.order_by("-id").values_list("id", flat=True).first()
    assert run.outcome == PeriodicRun.Outcome.OK
    assert run.summary["seals"] == 1 and run.summary["tip"]["hash"] == seal.seal_hash
    assert run_job("seal_ledger", now=timezone.now() + timedelta(minutes=1)).summary["seals"] == 0


def test_verify_ledger_records_a_clean_ledger_as_ok_where_metrics_read_it(alice: User) -> None:
    run = run_job("verify_ledger")

    assert run.outcome == PeriodicRun.Outcome.OK and run.summary["findings"] == 0
    assert periodic_last("verify_ledger") == run and run.finished_at is not None
    assert periodic_failures("verify_ledger") == 0
    assert not mail.outbox


def test_a_tampered_ledger_makes_verify_ledger_log_at_error_record_the_failure_and_mail_admins(
    alice: User, bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")
    ledger_seal()
    tamper("UPDATE ledger_transaction SET amount = 1000 WHERE id = %s", [entry.pk])

    with caplog.at_level(logging.ERROR, logger="jobs.tasks"):
        run = run_job("verify_ledger")

    assert run.outcome == PeriodicRun.Outcome.FAILED
    findings = run.summary["first_findings"]
    assert any(f["check"] == "row_hash" and f["subject"] == f"ledger row {entry.pk}" for f in findings)
    assert run.summary["findings"] == len(findings) and "finding(s)" in run.summary["message"]
    assert periodic_last("verify_ledger") == run and periodic_failures("verify_ledger") == 1
    (error,) = [r for r in caplog.records if r.name == "jobs.tasks" and r.levelno == logging.ERROR]
    assert "verify_ledger" in error.getMessage() and run.summary["message"] in error.getMessage()
    (message,) = mail.outbox
    assert message.to == ["ops@example.com"] and "verify_ledger failed" in message.subject
    assert run.summary["message"] in message.body


def test_with_the_mail_server_down_a_failed_verify_ledger_is_still_logged_and_recorded(
    alice: User, settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # A real SMTP mailer, to a port where nothing listens.
    settings.MAILERS = {"default": {"OPTIONS": {"host": "127.0.0.1", "port": 1, "timeout": 2}}}
    tamper("UPDATE ledger_transaction SET amount = 5 WHERE id = %s", [Transaction.objects.get().pk])
    with caplog.at_level(logging.WARNING, logger="jobs.tasks"):
        run = run_job("verify_ledger")
    assert run.outcome == PeriodicRun.Outcome.FAILED
    levels = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "jobs.tasks"]
    assert levels[0][0] == logging.ERROR and "verify_ledger" in levels[0][1]
    assert levels[1] == (logging.WARNING, "could not mail ADMINS about verify_ledger: 'ConnectionRefusedError'")
    assert not mail.outbox


def old(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


def test_prune_idempotency_keys_deletes_the_records_past_their_retention(alice: User) -> None:
    entry = Transaction.objects.get()
    fields = {"user": alice, "endpoint": "top_up", "fingerprint": "0" * 64, "status_code": 201, "response_body": {}}
    IdempotencyKey.objects.create(key="stale", transaction=entry, created_at=old(2), **fields)
    IdempotencyKey.objects.create(key="fresh", transaction=entry, created_at=old(0.5), **fields)

    assert run_job("prune_idempotency_keys").summary == {"ok": True, "deleted": 1}
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["fresh"]


def test_prune_codes_deletes_used_void_and_expired_codes_a_day_old_and_keeps_the_rest(register: Any) -> None:
    carol = register("carol", verify=False)
    # Sign-up sent carol a live code; give her more, of every fate and age.
    live = OneTimeCode.objects.get(user=carol)
    assert last_code(carol.profile.mobile_number)
    base = {"user": carol, "purpose": OneTimeCode.Purpose.PASSWORD_RESET, "mobile_number": "+919000000009"}
    made = {
        "used, 2 days": {"created_at": old(2), "expires_at": old(2), "used_at": old(2)},
        "void, 2 days": {"created_at": old(2), "expires_at": old(-1), "void": True},
        "expired, 2 days": {"created_at": old(2), "expires_at": old(2)},
        "live, 2 days": {"created_at": old(2), "expires_at": old(-1)},
        "used, an hour": {"created_at": old(1 / 24), "expires_at": old(-1), "used_at": old(1 / 24)},
        "expired, an hour": {"created_at": old(1 / 24), "expires_at": old(1 / 48)},
    }
    ids = {name: OneTimeCode.objects.create(code_hash="x" * 64, **base, **fields).pk for name, fields in made.items()}

    assert run_job("prune_codes").summary == {"ok": True, "deleted": 3}
    kept = set(OneTimeCode.objects.values_list("pk", flat=True))
    assert kept == {live.pk, ids["live, 2 days"], ids["used, an hour"], ids["expired, an hour"]}
    assert codes.codes_prune() == 0


@pytest.mark.django_db(transaction=True)
def test_prune_jobs_deletes_finished_tasks_runs_and_deliveries_past_their_age_but_the_last_run_of_each_job(
    settings: Any,
) -> None:
    settings.PAYLANE_JOBS_KEEP = timedelta(days=7)
    day0, day1, day2 = (datetime(2026, 1, d, tzinfo=UTC) for d in (1, 2, 3))
    for day in (day0, day1):
        periodic_tick(now=day)
        work_off()
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 12
    # All of that finished ten (day1) and eleven (day0) days ago.
    DBTaskResult.objects.update(finished_at=old(10))
    PeriodicRun.objects.filter(due_at=day0).update(enqueued_at=old(11), finished_at=old(11))
    PeriodicRun.objects.filter(due_at=day1).update(enqueued_at=old(10), finished_at=old(10))
    Delivery.objects.create(key="receipt:1", delivered_at=old(10))
    Delivery.objects.create(key="receipt:2", delivered_at=old(1))
    WorkerBeat.objects.create(worker_id="gone", host="h", pid=1, started_at=old(3), beat_at=old(2))
    # A run that never finished, of a job since taken out of the schedule: nothing to keep it for.
    PeriodicRun.objects.create(job="retired", due_at=day0, enqueued_at=old(10))

    run = run_job("prune_jobs", now=day2)

    assert run.summary == {"ok": True, "tasks": 12, "periodic_runs": 7, "deliveries": 1, "worker_beats": 1}
    assert list(Delivery.objects.values_list("key", flat=True)) == ["receipt:2"]
    # The newest finished run of every job stays, however old (/metrics reads it); today's are waiting.
    assert set(PeriodicRun.objects.values_list("due_at", flat=True)) == {day1, day2}
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 6
