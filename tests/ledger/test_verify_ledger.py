from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledger import triggers
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
