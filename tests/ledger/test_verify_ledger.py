from __future__ import annotations

import io
import random
import threading
from collections.abc import Callable
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from ledger import triggers
from ledger.models import Transaction
from ledger.reconcile import ledger_reconcile
from tests.ledger.test_tamper import tamper
from tests.racing import race
from wallets import services
from wallets.models import User, Wallet


def test_verify_ledger_passes_on_a_consistent_ledger(
    alice: User, bob: User, capsys: pytest.CaptureFixture[str]
) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="250")
    with pytest.raises(services.InsufficientFunds):
        services.transfer_create(sender=bob, to_user_id=alice.pk, amount="251")
    call_command("verify_ledger")
    assert "OK" in capsys.readouterr().out


def test_verify_ledger_reports_a_balance_that_does_not_follow_from_the_ledger(
    alice: User, bob: User, capsys: pytest.CaptureFixture[str]
) -> None:
    Wallet.objects.filter(user=bob).update(balance=Decimal("5.00"))  # money from nowhere
    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger")
    assert failed.value.returncode == 1
    report = capsys.readouterr().out
    assert f"[balance] wallet {bob.wallet.pk}" in report
    assert "[conservation]" in report


def test_verify_ledger_reports_a_version_gap_and_a_wrong_limit_counter(
    alice: User, bob: User, capsys: pytest.CaptureFixture[str]
) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    Wallet.objects.filter(user=alice).update(version=7, spent_today=Decimal("0.50"))
    with pytest.raises(CommandError):
        call_command("verify_ledger")
    report = capsys.readouterr().out
    assert "[version]" in report
    assert "[daily_limit]" in report


@pytest.mark.django_db(transaction=True)
def test_verify_ledger_reports_missing_triggers(capsys: pytest.CaptureFixture[str]) -> None:
    triggers.uninstall(connection, "ledger_transaction")
    try:
        with pytest.raises(CommandError):
            call_command("verify_ledger")
        assert "[triggers] ledger_transaction" in capsys.readouterr().out
    finally:
        triggers.install(connection, "ledger_transaction")


# --- While transfers commit: one snapshot, no false alarms ------------------------------------


def _verify_ledger_outcome() -> str:
    """``"ok"`` or verify_ledger's report, from a thread of its own (its own connection)."""
    out = io.StringIO()
    try:
        call_command("verify_ledger", stdout=out)
    except CommandError:
        return out.getvalue()
    return "ok"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_verify_ledger_finds_nothing_while_transfers_commit_and_still_finds_a_tamper(
    register: Callable[..., User],
) -> None:
    # Before the snapshot, the sums, the wallets and the totals were read by
    # separate statements, and a transfer committing between them showed up as
    # a balance, version or daily-limit mismatch.
    users = [register(f"u{i}", balance="1000.00") for i in range(4)]
    verified = threading.Event()
    runs = 8

    def pay(seed: int) -> int:
        rng, done = random.Random(seed), 0
        while not verified.is_set() and done < 2000:
            sender, receiver = rng.sample(users, 2)
            try:
                services.transfer_create(
                    sender=sender, to_user_id=receiver.pk, amount=f"{rng.randint(1, 500) / 100:.2f}"
                )
            except (services.InsufficientFunds, services.DailyLimitExceeded):
                pass
            done += 1
        return done

    def verify() -> list[str]:
        try:
            return [_verify_ledger_outcome() for _ in range(runs)]
        finally:
            verified.set()

    *paid, outcomes = race([lambda s=s: pay(s) for s in range(4)] + [verify])
    assert all(isinstance(n, int) and n > 0 for n in paid), paid
    assert outcomes == ["ok"] * runs

    first = Transaction.objects.order_by("id").first()
    assert first is not None
    tamper("UPDATE ledger_transaction SET amount = amount + 1 WHERE id = %s", [first.pk])
    assert _verify_ledger_outcome() != "ok"


def test_a_run_that_spans_midnight_compares_one_calendar_day(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10")
    # The first clock read is the last instant of today, every later one is tomorrow:
    # a run that read the clock twice would compare today's ledger with tomorrow's counter.
    last_instant = timezone.make_aware(datetime.combine(timezone.localdate(), time.max))
    reads = iter([last_instant])
    monkeypatch.setattr(timezone, "now", lambda: next(reads, last_instant + timedelta(microseconds=1)))
    assert ledger_reconcile() == []


@pytest.mark.django_db(transaction=True)
def test_verify_ledger_reports_a_missing_no_replace_trigger_on_sqlite(capsys: pytest.CaptureFixture[str]) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("SQLite's no-replace trigger (PostgreSQL needs none)")
    with connection.cursor() as cursor:
        cursor.execute("DROP TRIGGER ledger_seal_no_replace")
    try:
        with pytest.raises(CommandError):
            call_command("verify_ledger")
        assert "[triggers] ledger_seal: missing or disabled append-only trigger(s): ledger_seal_no_replace" in (
            capsys.readouterr().out
        )
    finally:
        triggers.install(connection, "ledger_seal")
