"""verify_ledger checks corrections: what they correct, which way they go, and that they never exceed it."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ledger import hashing
from ledger.models import ReversalDecision, Transaction
from ledger.reconcile import Finding, correction_findings, ledger_reconcile, reversal_record_findings
from ledger.services import Party, entry_append
from tests.conftest import PIN
from tests.ledger.test_tamper import tamper
from wallets import refunds, reversals, services
from wallets.models import User

pytestmark = pytest.mark.django_db


@pytest.fixture
def refunded(alice: User, bob: User) -> tuple[Transaction, Transaction]:
    payment = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")
    refund = refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="30.00")
    return payment, refund


def report() -> dict[str, object]:
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("verify_ledger", "--json", stdout=out)
    result: dict[str, object] = json.loads(out.getvalue())
    return result


def checks_of(findings: list[Finding]) -> set[str]:
    return {finding.check for finding in findings}


def test_honest_refunds_and_reversals_verify(refunded: tuple[Transaction, Transaction]) -> None:
    payment, _ = refunded
    ops = User.objects.create_superuser(username="ops", password="a long staff passphrase")
    lead = User.objects.create_superuser(username="lead", password="a long staff passphrase")
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate")
    reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)
    assert correction_findings() == [] and reversal_record_findings() == []
    call_command("verify_ledger", verbosity=0)


def test_a_refund_edited_to_exceed_the_payment_is_reported(refunded: tuple[Transaction, Transaction]) -> None:
    payment, refund = refunded
    tamper("UPDATE ledger_transaction SET amount = %s WHERE id = %s", ["130.00", refund.pk])

    findings = [f for f in ledger_reconcile() if f.check == "corrections"]
    assert [f.subject for f in findings] == [f"ledger row {payment.pk}"]
    assert "more than its amount 100.00" in findings[0].message
    assert any(f["check"] == "corrections" for f in report()["findings"])  # type: ignore[union-attr, index]


def test_a_refund_pointed_at_a_top_up_is_reported(alice: User, refunded: tuple[Transaction, Transaction]) -> None:
    _, refund = refunded
    top_up = Transaction.objects.get(receiver=alice, transaction_type="ADD_MONEY")
    tamper("UPDATE ledger_transaction SET corrects_id = %s WHERE id = %s", [top_up.pk, refund.pk])

    findings = correction_findings()
    assert [(f.subject, f.message) for f in findings] == [
        (f"ledger row {refund.pk} (REFUND of {top_up.pk})", "corrects an entry that is not a SUCCESS TRANSFER")
    ]


def test_a_forged_correction_going_the_same_way_is_reported(alice: User, bob: User) -> None:
    payment = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")
    # Forged with the ledger's own insert (a consistent row hash), as someone writing the table directly could.
    alice.wallet.refresh_from_db()
    forged = entry_append(
        transaction_type=Transaction.Type.REFUND,
        amount=Decimal("1.00"),
        sender=Party(user_id=alice.pk, balance=alice.wallet.balance, version=alice.wallet.version),
        receiver=Party(user_id=bob.pk, balance=Decimal("10.00"), version=1),
        corrects_id=payment.pk,
    )
    assert hashing.row_hash_compute({n: getattr(forged, n) for n in hashing.HASHED_FIELDS}) == forged.row_hash

    findings = correction_findings()
    assert [f.message for f in findings] == ["does not go back from the transfer's receiver to its sender"]
    assert "corrections" in checks_of(ledger_reconcile())


def test_a_reversal_decision_edited_to_another_row_is_reported(refunded: tuple[Transaction, Transaction]) -> None:
    payment, refund = refunded
    ops = User.objects.create_superuser(username="ops", password="a long staff passphrase")
    lead = User.objects.create_superuser(username="lead", password="a long staff passphrase")
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate", amount="10.00")
    decision = reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)
    assert decision.outcome == ReversalDecision.Outcome.APPROVED
    tamper(
        "UPDATE ledger_reversaldecision SET reversal_id = %s WHERE id = %s",
        [refund.pk, decision.pk],
        table="ledger_reversaldecision",
    )
    assert [f.check for f in reversal_record_findings()] == ["reversals"]


def test_export_ledger_writes_the_reversal_records(
    capsys: pytest.CaptureFixture[str], refunded: tuple[Transaction, Transaction]
) -> None:
    payment, _ = refunded
    ops = User.objects.create_superuser(username="ops", password="a long staff passphrase")
    lead = User.objects.create_superuser(username="lead", password="a long staff passphrase")
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="=HYPERLINK(x)", amount="5.00")
    decision = reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)

    call_command("export_ledger", "--reversals")
    lines = list(csv.reader(io.StringIO(capsys.readouterr().out)))

    assert lines[0][:3] == ["record", "id", "created_at_utc"]
    assert [line[0] for line in lines[1:]] == ["proposal", "decision"]
    proposed, decided = lines[1], lines[2]
    assert proposed[3:8] == [str(proposal.pk), str(payment.pk), "5.00", str(ops.pk), "ops"]
    assert proposed[9] == "'=HYPERLINK(x)"  # a spreadsheet would run it
    assert decided[3] == str(proposal.pk) and decided[6:9] == [str(lead.pk), "lead", "APPROVED"]
    assert decided[10] == str(decision.reversal_id)
