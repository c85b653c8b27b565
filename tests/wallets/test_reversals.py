"""Staff reversals: proposed by one staff member, approved or refused by another; records never change."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction

from ledger.models import AppendOnlyError, ReversalDecision, ReversalProposal, Transaction
from ledger.services import reversal_decision_record
from tests.conftest import PIN, balance_of
from wallets import refunds, reversals, services
from wallets.errors import (
    AlreadyRefunded,
    InvalidAmount,
    NotReversible,
    ProposalClosed,
    ReversalNotAllowed,
    ValidationFailed,
)
from wallets.models import User

pytestmark = pytest.mark.django_db


def staff(username: str, *, perms: tuple[str, ...] = ("add_reversalproposal", "add_reversaldecision")) -> User:
    user = User.objects.create_user(username=username, password="x" * 20, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="ledger", codename__in=perms))
    return User.objects.get(pk=user.pk)  # a fresh permission cache


@pytest.fixture
def payment(alice: User, bob: User) -> Transaction:
    return services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")


@pytest.fixture
def ops() -> User:
    return staff("ops")


@pytest.fixture
def lead() -> User:
    return staff("lead")


def test_a_second_staff_member_approves_and_the_money_goes_back(
    alice: User, bob: User, payment: Transaction, ops: User, lead: User
) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="paid the wrong bob (ticket 42)")
    assert proposal.amount == Decimal("100.00")
    assert balance_of(bob) == Decimal("100.00")  # proposing moves nothing

    decision = reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)

    assert decision.outcome == ReversalDecision.Outcome.APPROVED
    reversal = decision.reversal
    assert reversal is not None
    assert (reversal.transaction_type, reversal.status) == ("REVERSAL", "SUCCESS")
    assert (reversal.sender_id, reversal.receiver_id, reversal.corrects_id) == (bob.pk, alice.pk, payment.pk)
    assert (balance_of(alice), balance_of(bob)) == (Decimal("1000.00"), Decimal("0.00"))
    assert not reversals.proposal_is_open(proposal)
    call_command("verify_ledger", verbosity=0)


def test_the_proposer_cannot_approve_or_refuse_their_own_proposal(payment: Transaction, ops: User) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate")
    with pytest.raises(ReversalNotAllowed):
        reversals.reversal_approve(actor=ops, proposal_id=proposal.pk)
    with pytest.raises(ReversalNotAllowed):
        reversals.reversal_refuse(actor=ops, proposal_id=proposal.pk, reason="changed my mind")
    assert not ReversalDecision.objects.exists()
    assert not Transaction.objects.filter(transaction_type="REVERSAL").exists()


def test_the_database_refuses_a_decision_by_the_proposer_too(payment: Transaction, ops: User) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate")
    with pytest.raises(IntegrityError), transaction.atomic():
        reversal_decision_record(proposal=proposal, outcome="REFUSED", decided_by_id=ops.pk, reason="mine")


def test_only_staff_with_the_permission_may_propose_or_decide(alice: User, payment: Transaction, ops: User) -> None:
    with pytest.raises(ReversalNotAllowed):
        reversals.reversal_propose(actor=alice, entry_id=payment.pk, reason="I want it back")
    viewer = staff("viewer", perms=())
    with pytest.raises(ReversalNotAllowed):
        reversals.reversal_propose(actor=viewer, entry_id=payment.pk, reason="x")
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate")
    with pytest.raises(ReversalNotAllowed):
        reversals.reversal_approve(
            actor=staff("proposer_only", perms=("add_reversalproposal",)), proposal_id=proposal.pk
        )


def test_a_reason_is_mandatory_and_only_transfers_are_reversed(alice: User, payment: Transaction, ops: User) -> None:
    with pytest.raises(ValidationFailed):
        reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="   ")
    top_up = Transaction.objects.get(receiver=alice, transaction_type="ADD_MONEY")
    with pytest.raises(NotReversible):
        reversals.reversal_propose(actor=ops, entry_id=top_up.pk, reason="no")
    with pytest.raises(InvalidAmount):
        reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="too much", amount="100.01")


def test_an_uncovered_approval_is_recorded_failed_and_the_proposal_stays_open(
    register: Callable[..., User], alice: User, bob: User, payment: Transaction, ops: User, lead: User
) -> None:
    carol = register("carol")
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="fraud report 7")
    services.transfer_create(sender=bob, to_user_id=carol.pk, amount="70.00")

    attempt = reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)

    assert attempt.outcome == ReversalDecision.Outcome.FAILED
    failed = attempt.reversal
    assert failed is not None
    assert (failed.transaction_type, failed.status, failed.failure_reason) == (
        "REVERSAL",
        "FAILED",
        "insufficient_funds",
    )
    assert failed.corrects_id == payment.pk
    assert balance_of(bob) == Decimal("30.00")
    assert reversals.proposal_is_open(proposal)
    call_command("verify_ledger", verbosity=0)

    services.transfer_create(sender=carol, to_user_id=bob.pk, amount="70.00")
    again = reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)
    assert again.outcome == ReversalDecision.Outcome.APPROVED
    assert balance_of(bob) == Decimal("0.00")


def test_a_second_approval_after_success_is_refused(payment: Transaction, ops: User, lead: User) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate", amount="40.00")
    reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)
    with pytest.raises(ProposalClosed) as closed:
        reversals.reversal_approve(actor=staff("third"), proposal_id=proposal.pk)
    assert (closed.value.code, closed.value.http_status) == ("proposal_closed", 409)
    with pytest.raises(ProposalClosed):
        reversals.reversal_refuse(actor=lead, proposal_id=proposal.pk, reason="too late")
    assert Transaction.objects.filter(transaction_type="REVERSAL").count() == 1
    # The database, too, takes one closing decision per proposal.
    with pytest.raises(IntegrityError), transaction.atomic():
        reversal_decision_record(proposal=proposal, outcome="REFUSED", decided_by_id=lead.pk, reason="again")


def test_a_refused_proposal_is_closed_and_moves_nothing(bob: User, payment: Transaction, ops: User, lead: User) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="customer asked")
    with pytest.raises(ValidationFailed):
        reversals.reversal_refuse(actor=lead, proposal_id=proposal.pk, reason="")
    decision = reversals.reversal_refuse(actor=lead, proposal_id=proposal.pk, reason="the goods were delivered")
    assert (decision.outcome, decision.reversal_id) == ("REFUSED", None)
    with pytest.raises(ProposalClosed):
        reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)
    assert balance_of(bob) == Decimal("100.00")


def test_refunds_and_reversals_of_one_transfer_never_exceed_it(
    bob: User, payment: Transaction, ops: User, lead: User
) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate", amount="80.00")
    refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="30.00")
    with pytest.raises(InvalidAmount):  # 70.00 is left, the proposal says 80.00
        reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)
    refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN)
    with pytest.raises(AlreadyRefunded):
        reversals.reversal_approve(actor=lead, proposal_id=proposal.pk)
    with pytest.raises(AlreadyRefunded):
        reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="again")
    assert reversals.proposal_is_open(proposal)


@pytest.mark.parametrize("table", ["ledger_reversalproposal", "ledger_reversaldecision"])
def test_proposals_and_decisions_are_immutable_in_the_database(
    payment: Transaction, ops: User, lead: User, table: str
) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate")
    reversals.reversal_refuse(actor=lead, proposal_id=proposal.pk, reason="no")
    for sql in (f"UPDATE {table} SET created_at = created_at", f"DELETE FROM {table}"):
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql)
    if connection.vendor == "postgresql":
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            # The test's own transaction has deferred foreign-key checks queued, which TRUNCATE refuses to meet.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute(f"TRUNCATE {table} CASCADE")
    assert ReversalProposal.objects.get().reason == "duplicate"
    assert ReversalDecision.objects.get().reason == "no"


def test_proposals_and_decisions_refuse_orm_changes(payment: Transaction, ops: User) -> None:
    proposal = reversals.reversal_propose(actor=ops, entry_id=payment.pk, reason="duplicate")
    proposal.reason = "something else"
    with pytest.raises(AppendOnlyError):
        proposal.save()
    with pytest.raises(AppendOnlyError):
        ReversalProposal.objects.all().delete()
