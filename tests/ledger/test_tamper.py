"""Someone who can switch the triggers off edits a sealed row: verify_ledger names it every time.

PostgreSQL: ``ALTER TABLE … DISABLE TRIGGER`` as the superuser; SQLite: drop
the trigger. Both are transactional, so the test's rollback restores them too,
but each test switches them back on itself, as a careful attacker would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from ledger import hashing, triggers
from ledger.models import Seal, Transaction
from ledger.reconcile import Finding, ledger_reconcile
from ledger.services import ledger_seal
from wallets import services
from wallets.models import User


@contextmanager
def triggers_off(table: str) -> Iterator[None]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test's own transaction has deferred foreign-key checks queued,
            # and ALTER TABLE refuses to run with trigger events pending.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        else:
            triggers.uninstall(connection, table)
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
            else:
                triggers.install(connection, table)


def tamper(sql: str, params: list[Any], table: str = "ledger_transaction") -> None:
    with triggers_off(table), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.fixture
def sealed(alice: User, bob: User) -> Transaction:
    """A transfer in the middle of a sealed block (rows before and after it), and an unsealed tail."""
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100")
    services.transfer_create(sender=bob, to_user_id=alice.pk, amount="30")
    assert len(ledger_seal().seals) == 1
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")  # not sealed yet
    assert ledger_reconcile() == []
    return entry


def checks(findings: list[Finding]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for f in findings:
        found.setdefault(f.check, []).append(f.subject)
    return found


def block_of(entry: Transaction) -> str:
    seal = Seal.objects.get(after_id__lt=entry.pk, last_id__gte=entry.pk)
    return f"seal {seal.pk} (ledger ids {seal.after_id + 1}..{seal.last_id})"


def test_an_edited_amount_is_named_by_its_row(sealed: Transaction) -> None:
    tamper("UPDATE ledger_transaction SET amount = 1000 WHERE id = %s", [sealed.pk])
    found = checks(ledger_reconcile())
    assert found["row_hash"] == [f"ledger row {sealed.pk}"]


def test_an_edited_date_is_named_by_its_row(sealed: Transaction) -> None:
    new = sealed.created_at.replace(day=1 if sealed.created_at.day != 1 else 2)
    tamper("UPDATE ledger_transaction SET created_at = %s WHERE id = %s", [new, sealed.pk])
    assert checks(ledger_reconcile())["row_hash"] == [f"ledger row {sealed.pk}"]


def test_an_edit_that_also_recomputes_the_row_hash_is_named_by_its_block(sealed: Transaction) -> None:
    content = Transaction.objects.filter(pk=sealed.pk).values(*hashing.ROW_FIELDS).get()
    content["failure_reason"] = "forged"
    tamper(
        "UPDATE ledger_transaction SET failure_reason = 'forged', row_hash = %s WHERE id = %s",
        [hashing.row_hash_compute(content), sealed.pk],
    )
    found = checks(ledger_reconcile())
    assert "row_hash" not in found
    assert found["seal"] == [block_of(sealed)]


def test_an_edited_row_hash_is_named_by_its_row_and_its_block(sealed: Transaction) -> None:
    tamper("UPDATE ledger_transaction SET row_hash = %s WHERE id = %s", ["f" * 64, sealed.pk])
    found = checks(ledger_reconcile())
    assert found["row_hash"] == [f"ledger row {sealed.pk}"]
    assert found["seal"] == [block_of(sealed)]


def test_a_deleted_sealed_row_is_named_by_its_block(sealed: Transaction) -> None:
    block = block_of(sealed)
    tamper("DELETE FROM ledger_transaction WHERE id = %s", [sealed.pk])
    assert checks(ledger_reconcile())["seal"] == [block]


def test_an_edited_seal_is_named_and_so_is_a_broken_chain(sealed: Transaction) -> None:
    ledger_seal()
    first, second = Seal.objects.order_by("id")
    tamper("UPDATE ledger_seal SET block_hash = %s WHERE id = %s", ["0" * 64, first.pk], table="ledger_seal")
    assert checks(ledger_reconcile())["seal"] == [block_of(sealed)]
    tamper("UPDATE ledger_seal SET prev_hash = %s WHERE id = %s", ["e" * 64, second.pk], table="ledger_seal")
    assert len(checks(ledger_reconcile())["seal"]) == 1  # only the first bad block


def test_verify_ledger_json_lists_the_findings_and_exits_non_zero(
    sealed: Transaction, capsys: pytest.CaptureFixture[str]
) -> None:
    tamper("UPDATE ledger_transaction SET amount = 5 WHERE id = %s", [sealed.pk])
    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", "--json")
    assert failed.value.returncode == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False
    subjects = {(f["check"], f["subject"]) for f in report["findings"]}
    assert ("row_hash", f"ledger row {sealed.pk}") in subjects
    assert any(check == "balance" for check, _ in subjects)


def test_verify_ledger_json_says_ok_on_an_untouched_ledger(
    sealed: Transaction, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("verify_ledger", "--json")
    report = json.loads(capsys.readouterr().out)
    assert report == {"ok": True, "unsealed_rows": 1, "findings": []}


@pytest.mark.postgres
def test_a_trigger_left_disabled_is_reported(sealed: Transaction) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE ledger_seal DISABLE TRIGGER ledger_seal_append_only")
    assert checks(ledger_reconcile())["triggers"] == ["ledger_seal"]


def test_a_rebuilt_chain_passes_the_chain_check_but_not_the_anchor_kept_outside(
    sealed: Transaction, capsys: pytest.CaptureFixture[str]
) -> None:
    call_command("seal_ledger")
    tip = Seal.objects.order_by("-id").first()
    assert tip is not None
    anchor = f"{tip.pk}:{tip.seal_hash}"
    call_command("verify_ledger", "--anchor", anchor)
    # The attacker rewrites a row with a fresh hash and rebuilds every seal from scratch.
    content = Transaction.objects.filter(pk=sealed.pk).values(*hashing.ROW_FIELDS).get()
    content["failure_reason"] = "forged"
    tamper(
        "UPDATE ledger_transaction SET failure_reason = 'forged', row_hash = %s WHERE id = %s",
        [hashing.row_hash_compute(content), sealed.pk],
    )
    tamper("DELETE FROM ledger_seal", [], table="ledger_seal")
    ledger_seal()
    assert ledger_reconcile() == []
    with pytest.raises(CommandError):
        call_command("verify_ledger", "--anchor", anchor)
    assert "[anchor] seal" in capsys.readouterr().out
