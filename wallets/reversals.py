"""Staff reversals: one staff member proposes, a different one approves or refuses (two people, ASVS 2.3.5).

A proposal names a SUCCESS TRANSFER, an amount (by default all that is left of
it after its corrections) and a mandatory reason. Approval moves the money back
from the transfer's receiver to its sender as a REVERSAL entry; if the
receiver's balance does not cover it, the attempt is recorded as a FAILED
REVERSAL entry (and a FAILED decision) and the proposal stays open, to be
approved again later or refused. Proposals and decisions are append-only
records in the ledger app (``ledger.models.ReversalProposal``,
``ReversalDecision``), written through ``ledger.services``.

Every step runs under the transfer's two wallet locks
(``wallets.corrections.transfer_lock``): the same locks as a refund of it, so a
refund and an approval of one transfer serialise, and two approvals of one
proposal do too (the second finds it closed).
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from ledger.models import ReversalDecision, ReversalProposal, Transaction
from ledger.money import money_format
from ledger.services import reversal_decision_record, reversal_proposal_record
from wallets import corrections
from wallets.busy import busy_on_timeout
from wallets.errors import (
    AlreadyRefunded,
    InsufficientFunds,
    NotReversible,
    ProposalClosed,
    ReversalNotAllowed,
    ValidationFailed,
)
from wallets.models import User
from wallets.money import amount_parse

REASON_MAX_LENGTH = 500
PROPOSE_PERMISSION = "ledger.add_reversalproposal"
DECIDE_PERMISSION = "ledger.add_reversaldecision"


def _reason_clean(reason: object, *, field: str = "reason") -> str:
    text = reason.strip() if isinstance(reason, str) else ""
    if not text:
        raise ValidationFailed("Give the reason: it is kept with the record.", field=field)
    if len(text) > REASON_MAX_LENGTH:
        raise ValidationFailed(f"A reason is at most {REASON_MAX_LENGTH} characters.", field=field)
    return text


def _staff_check(actor: User, permission: str) -> None:
    if not (actor.is_active and actor.is_staff and actor.has_perm(permission)):
        raise ReversalNotAllowed("Only staff with the reversal permission may do that.")


def reversible_check(entry: Transaction) -> None:
    """``NotReversible`` unless ``entry`` is a SUCCESS TRANSFER (the only thing a correction may name)."""
    if entry.transaction_type != Transaction.Type.TRANSFER or entry.status != Transaction.Status.SUCCESS:
        raise NotReversible()


def proposal_is_open(proposal: ReversalProposal) -> bool:
    """No closing decision (APPROVED or REFUSED) yet. Exact only under the entry's wallet locks."""
    return not ReversalDecision.objects.filter(closes_id=proposal.pk).exists()


def reversal_propose(*, actor: User, entry_id: int, reason: object, amount: object = None) -> ReversalProposal:
    """Propose reversing ``amount`` (None or "": all that is left) of ledger entry ``entry_id``, for ``reason``.

    Refused: ``ReversalNotAllowed`` (not active staff with
    ``ledger.add_reversalproposal``), ``ValidationFailed`` (no reason, too
    long), ``InvalidAmount``, ``NotReversible`` (not a SUCCESS TRANSFER),
    ``AlreadyRefunded`` (nothing left), ``InvalidAmount`` (more than is left).
    Transaction: one, durable. Locks: the transfer's two wallets (so what is
    left is exact). Side effects: one ``ReversalProposal`` record; no money moves.
    """
    _staff_check(actor, PROPOSE_PERMISSION)
    text = _reason_clean(reason)
    value = None if amount is None or amount == "" else amount_parse(amount)
    entry = Transaction.objects.filter(pk=entry_id).first()
    if entry is None:
        raise NotReversible("There is no ledger entry with that id.")
    reversible_check(entry)
    with busy_on_timeout(), transaction.atomic(durable=True):
        locked = corrections.transfer_lock(entry=entry)
        rest = entry.amount - corrections.corrected_sum(entry_id=entry.pk)
        if rest <= 0:
            raise AlreadyRefunded("Nothing is left of this transfer to reverse.")
        value = rest if value is None else value
        corrections.correction_check(locked=locked, amount=value, rest=rest)
        return reversal_proposal_record(entry_id=entry.pk, amount=value, reason=text, proposed_by_id=actor.pk)


def _decision_start(*, actor: User, proposal_id: int) -> ReversalProposal:
    _staff_check(actor, DECIDE_PERMISSION)
    proposal = ReversalProposal.objects.select_related("entry").filter(pk=proposal_id).first()
    if proposal is None:
        raise ValidationFailed("There is no reversal proposal with that id.")
    if proposal.proposed_by_id == actor.pk:
        raise ReversalNotAllowed("A reversal needs two people: someone else must approve or refuse your proposal.")
    return proposal


def reversal_approve(*, actor: User, proposal_id: int) -> ReversalDecision:
    """Approve proposal ``proposal_id``: reverse its amount from the transfer's receiver to its sender.

    Refused, nothing recorded: ``ReversalNotAllowed`` (not active staff with
    ``ledger.add_reversaldecision``, or the proposer: two people),
    ``ProposalClosed`` (already approved or refused), ``AlreadyRefunded`` or
    ``InvalidAmount`` (refunds since the proposal left less than it names:
    refuse it and propose again). Transaction: one, durable. Locks: the
    transfer's two wallets, ascending id. Outcomes, each recorded: the
    receiver's balance covers it: a SUCCESS REVERSAL ledger row (both balances
    and versions, not the daily counter) and an APPROVED decision that closes
    the proposal, pushed to both parties after commit; it does not: a FAILED
    REVERSAL row (nothing moves; pushed to the receiver) and a FAILED decision,
    the proposal stays open. Returns the decision.
    """
    proposal = _decision_start(actor=actor, proposal_id=proposal_id)
    with busy_on_timeout(), transaction.atomic(durable=True):
        locked = corrections.transfer_lock(entry=proposal.entry)
        now = timezone.now()
        if not proposal_is_open(proposal):
            raise ProposalClosed()
        rest = proposal.entry.amount - corrections.corrected_sum(entry_id=proposal.entry_id)
        if rest <= 0:
            raise AlreadyRefunded("Nothing is left of this transfer to reverse: refuse the proposal.")
        corrections.correction_check(locked=locked, amount=proposal.amount, rest=rest)
        note = f"Reversal #{proposal.pk}"
        if locked.payer.balance < proposal.amount:
            refusal = InsufficientFunds(
                f"The receiver's balance ({money_format(locked.payer.balance)}) does not cover it."
            )
            failed = corrections.correction_record_failed(
                locked=locked,
                transaction_type=Transaction.Type.REVERSAL,
                amount=proposal.amount,
                note=note,
                now=now,
                reason=refusal,
            )
            return reversal_decision_record(
                proposal=proposal,
                outcome=ReversalDecision.Outcome.FAILED,
                decided_by_id=actor.pk,
                reason=refusal.message,
                reversal_id=failed.pk,
                created_at=now,
            )
        entry = corrections.correction_append(
            locked=locked, transaction_type=Transaction.Type.REVERSAL, amount=proposal.amount, note=note, now=now
        )
        return reversal_decision_record(
            proposal=proposal,
            outcome=ReversalDecision.Outcome.APPROVED,
            decided_by_id=actor.pk,
            reversal_id=entry.pk,
            created_at=now,
        )


def reversal_refuse(*, actor: User, proposal_id: int, reason: object) -> ReversalDecision:
    """Refuse proposal ``proposal_id`` for ``reason``: it closes, nothing moves.

    Refused: as ``reversal_approve`` (not allowed, the proposer, closed), and
    ``ValidationFailed`` without a reason. Transaction: one, durable. Locks: the
    transfer's two wallets (so a refusal and an approval of one proposal
    serialise). Side effects: one REFUSED ``ReversalDecision``.
    """
    text = _reason_clean(reason)
    proposal = _decision_start(actor=actor, proposal_id=proposal_id)
    with busy_on_timeout(), transaction.atomic(durable=True):
        corrections.transfer_lock(entry=proposal.entry)
        if not proposal_is_open(proposal):
            raise ProposalClosed()
        return reversal_decision_record(
            proposal=proposal, outcome=ReversalDecision.Outcome.REFUSED, decided_by_id=actor.pk, reason=text
        )


def proposal_rest(proposal: ReversalProposal) -> Decimal:
    """What is left of the proposal's transfer to correct now (a hint for the admin page)."""
    return corrections.refundable_rest(entry=proposal.entry)
