"""A runtime role with SELECT and INSERT on the ledger moves money and cannot change history."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from ledger.models import Transaction
from ledger.reconcile import ledger_reconcile
from ledger.services import ledger_seal
from wallets import services
from wallets.models import User

pytestmark = pytest.mark.postgres

# Roles are cluster-wide: a name no other worktree uses. CREATE ROLE is
# transactional, so the test's rollback removes it again.
ROLE = "paylane_app_audit_test"


@pytest.fixture
def as_runtime_role(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    call_command("ledger_grants", "--role", ROLE)
    script = capsys.readouterr().out
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {ROLE} LOGIN")
        for line in script.splitlines():
            if line.startswith(("GRANT", "REVOKE")):
                cursor.execute(line)
        cursor.execute(f"SET ROLE {ROLE}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET ROLE")


def refused(sql: str) -> str:
    with pytest.raises(DatabaseError) as error, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(error.value)


def test_ledger_grants_prints_select_and_insert_only_for_the_append_only_tables(
    db: None, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("ledger_grants", "--role", ROLE)
    script = capsys.readouterr().out
    for table in ("ledger_transaction", "ledger_seal", "ledger_dailylimitchange"):
        assert f'GRANT SELECT, INSERT ON "{table}" TO "{ROLE}";' in script
    assert f'GRANT SELECT, INSERT, UPDATE, DELETE ON "wallets_wallet" TO "{ROLE}";' in script
    assert "TRUNCATE" not in script


def test_the_runtime_role_moves_money_seals_and_verifies(alice: User, bob: User, as_runtime_role: None) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone()[0] == ROLE
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10")
    with pytest.raises(services.InsufficientFunds):
        services.transfer_create(sender=bob, to_user_id=alice.pk, amount="11")
    services.wallet_set_daily_limit(wallet=alice.wallet, daily_limit=None, actor=alice)
    assert ledger_seal().seals
    assert ledger_reconcile() == []


def test_the_runtime_role_cannot_update_delete_truncate_or_switch_the_triggers_off(
    alice: User, as_runtime_role: None
) -> None:
    before = list(Transaction.objects.values_list("id", "amount"))
    assert "permission denied" in refused("UPDATE ledger_transaction SET amount = 1")
    assert "permission denied" in refused("DELETE FROM ledger_transaction")
    assert "permission denied" in refused("TRUNCATE ledger_transaction")
    assert "permission denied" in refused("UPDATE ledger_seal SET row_count = 1")
    assert "must be owner" in refused("ALTER TABLE ledger_transaction DISABLE TRIGGER ledger_transaction_append_only")
    assert "must be owner" in refused("DROP TRIGGER ledger_transaction_append_only ON ledger_transaction")
    assert "permission denied" in refused("SET session_replication_role = replica")
    assert "permission denied" in refused("SELECT setval(pg_get_serial_sequence('ledger_transaction', 'id'), 1)")
    assert list(Transaction.objects.values_list("id", "amount")) == before
