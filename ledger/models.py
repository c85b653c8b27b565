"""The ledger: one immutable row per money movement or refused attempt.

Design
------
* ``id`` is monotonic. Every row that concerns a wallet is inserted while that
  wallet's row is locked (for a FAILED row, the sender's), so per user the id
  order is the commit order: resuming "after id N" never skips a row.
* A row records each party's balance and wallet ``version`` after it, so a
  wallet's history can be replayed and a missing entry shows as a version gap.
* ADD_MONEY has a receiver and no sender (money enters from outside).
  TRANSFER has both. A FAILED row (insufficient funds, over the daily limit)
  moves nothing: it carries the sender's unchanged balance and version and no
  receiver figures, and is shown to the sender only.
* Mistakes are corrected by new entries, never by edits: a REFUND (by the
  receiver of a transfer) and a REVERSAL (by two staff members) move money
  back from the receiver to the sender of the entry they name in ``corrects``.
  The corrections of one entry never add up to more than its amount: they are
  made with both parties' wallets locked, which serialises them, and
  ``verify_ledger`` checks the sums.
* Append-only, three times over: database triggers (installed by the
  migrations, re-applied from ``ledger/sql/``) refuse UPDATE, DELETE and
  TRUNCATE from any client, and on SQLite an INSERT that would replace a row
  (``INSERT OR REPLACE``); the ORM refuses ``save()`` on an
  existing row, ``delete()`` and queryset ``update()``/``delete()``; the
  foreign keys PROTECT users, so nothing cascades into the ledger.
* CHECK constraints: amount > 0; sender differs from receiver; ADD_MONEY has no
  sender and the others have one; a REFUND or REVERSAL names the entry it
  corrects and nothing else does; a SUCCESS row carries the receiver's figures.
* Tamper evidence (``docs/audit.md``): each row carries the SHA-256 of its
  content (``ledger/hashing.py``), and ``Seal`` rows chain blocks of row
  hashes, so an edit made with the triggers disabled is still found by
  ``verify_ledger``. ``Seal`` and ``DailyLimitChange`` are append-only too.
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models
from django.utils import timezone

from ledger.money import DECIMAL_PLACES, MAX_DIGITS


class AppendOnlyError(Exception):
    """Raised by the ORM guard before the database trigger would refuse."""

    def __init__(self, operation: str) -> None:
        super().__init__(f"ledger is append-only: {operation} is refused")


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("UPDATE")

    def delete(self) -> NoReturn:  # type: ignore[override]
        raise AppendOnlyError("DELETE")

    def bulk_update(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("UPDATE")


class AppendOnlyModel(models.Model):
    """ORM guard shared by every append-only table (the triggers are the real wall)."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("UPDATE")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("DELETE")


class Transaction(AppendOnlyModel):
    class Type(models.TextChoices):
        ADD_MONEY = "ADD_MONEY", "Add money"
        TRANSFER = "TRANSFER", "Transfer"
        # Corrections: new entries, never edits. Each names the entry it corrects (``corrects``).
        REFUND = "REFUND", "Refund"
        REVERSAL = "REVERSAL", "Reversal"

    class Status(models.TextChoices):
        SUCCESS = "SUCCESS", "Success"
        FAILED = "FAILED", "Failed"

    id = models.BigAutoField(primary_key=True)
    transaction_type = models.CharField(max_length=16, choices=Type.choices)
    status = models.CharField(max_length=16, choices=Status.choices)
    amount = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
    currency = models.CharField(max_length=3)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    receiver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    sender_balance_after = models.DecimalField(
        max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True
    )
    sender_version_after = models.PositiveBigIntegerField(null=True, blank=True)
    receiver_balance_after = models.DecimalField(
        max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True
    )
    receiver_version_after = models.PositiveBigIntegerField(null=True, blank=True)
    # The error code of a FAILED attempt (insufficient_funds, daily_limit_exceeded).
    failure_reason = models.CharField(max_length=32, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    # SHA-256 of the row's canonical content without its id (ledger/hashing.py),
    # set by entry_append before the INSERT. Blank only on rows that predate it.
    row_hash = models.CharField(max_length=64, blank=True, default="")
    # What the payer wrote (at most 80 characters, no control characters); part of the hash.
    note = models.CharField(max_length=80, blank=True, default="")
    # The entry a REFUND or REVERSAL corrects (the same two parties, the other way); part of the hash.
    corrects = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="corrections")

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["sender", "-id"], name="ledger_tx_sender_id"),
            models.Index(fields=["receiver", "-id"], name="ledger_tx_receiver_id"),
            models.Index(fields=["created_at"], name="ledger_tx_created_at"),
            # The admin's type and status filters, newest first, without walking the whole ledger.
            models.Index(fields=["status", "-id"], name="ledger_tx_status_id"),
            models.Index(fields=["transaction_type", "-id"], name="ledger_tx_type_id"),
            models.Index(fields=["corrects"], name="ledger_tx_corrects", condition=models.Q(corrects__isnull=False)),
            # The history's filters, one per side of "which entries may this user see" (ledger/history.py):
            # each starts with the party, so a filter reads one user's rows only; the range ones end with
            # the id, so a page's ids come from the index alone. On PostgreSQL the text search (q) has
            # trigram indexes too (migration 0010). docs/performance.md shows the plans.
            models.Index(fields=["sender", "created_at", "id"], name="ledger_tx_sender_created"),
            models.Index(fields=["receiver", "created_at", "id"], name="ledger_tx_receiver_created"),
            models.Index(fields=["sender", "receiver", "-id"], name="ledger_tx_sender_receiver"),
            models.Index(fields=["receiver", "sender", "-id"], name="ledger_tx_receiver_sender"),
            models.Index(fields=["sender", "transaction_type", "-id"], name="ledger_tx_sender_type"),
            models.Index(fields=["receiver", "transaction_type", "-id"], name="ledger_tx_receiver_type"),
            models.Index(fields=["sender", "status", "-id"], name="ledger_tx_sender_status"),
            models.Index(fields=["sender", "amount", "id"], name="ledger_tx_sender_amount"),
            models.Index(fields=["receiver", "amount", "id"], name="ledger_tx_receiver_amount"),
        ]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_tx_amount_positive"),
            models.CheckConstraint(
                condition=models.Q(sender__isnull=True) | ~models.Q(sender=models.F("receiver")),
                name="ledger_tx_sender_not_receiver",
            ),
            models.CheckConstraint(
                condition=models.Q(transaction_type__in=["ADD_MONEY", "TRANSFER", "REFUND", "REVERSAL"]),
                name="ledger_tx_type_valid",
            ),
            models.CheckConstraint(condition=models.Q(status__in=["SUCCESS", "FAILED"]), name="ledger_tx_status_valid"),
            models.CheckConstraint(
                condition=(models.Q(transaction_type="ADD_MONEY", sender__isnull=True, status="SUCCESS"))
                | models.Q(transaction_type__in=["TRANSFER", "REFUND", "REVERSAL"], sender__isnull=False),
                name="ledger_tx_parties_match_type",
            ),
            # A correction names what it corrects; nothing else does.
            models.CheckConstraint(
                condition=models.Q(transaction_type__in=["REFUND", "REVERSAL"], corrects__isnull=False)
                | models.Q(transaction_type__in=["ADD_MONEY", "TRANSFER"], corrects__isnull=True),
                name="ledger_tx_corrects_matches_type",
            ),
            models.CheckConstraint(
                condition=models.Q(status="FAILED")
                | models.Q(receiver_balance_after__isnull=False, receiver_version_after__isnull=False),
                name="ledger_tx_success_has_receiver_figures",
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.id} {self.transaction_type} {self.status} {self.amount} {self.currency}"

    def involves(self, user_id: int) -> bool:
        return user_id in (self.sender_id, self.receiver_id)


class Seal(AppendOnlyModel):
    """One block of the ledger, sealed: ids ``after_id < id <= last_id``.

    ``block_hash`` runs over the block's ``"<id>:<row_hash>"`` lines in id
    order, ``seal_hash`` over the range, count, block hash and ``prev_hash``
    (the previous seal's ``seal_hash``): a hash chain. ``after_id`` is the
    previous seal's ``last_id``, so blocks tile the id space with no gap for a
    row to be slipped into. Unique ``after_id`` and ``prev_hash`` keep the
    chain linear even if two sealers race.
    """

    id = models.BigAutoField(primary_key=True)
    after_id = models.BigIntegerField(unique=True)
    last_id = models.BigIntegerField()
    row_count = models.PositiveIntegerField()
    block_hash = models.CharField(max_length=64)
    prev_hash = models.CharField(max_length=64, unique=True)
    seal_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(last_id__gt=models.F("after_id")), name="ledger_seal_range"),
            models.CheckConstraint(condition=models.Q(row_count__gt=0), name="ledger_seal_not_empty"),
        ]

    def __str__(self) -> str:
        return f"seal {self.id} (ledger ids {self.after_id + 1}..{self.last_id})"


class DailyLimitChange(AppendOnlyModel):
    """Who changed a wallet's daily-limit override, when, from what to what (null = the default)."""

    id = models.BigAutoField(primary_key=True)
    wallet = models.ForeignKey("wallets.Wallet", on_delete=models.PROTECT, related_name="daily_limit_changes")
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    old_limit = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True)
    new_limit = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["wallet", "-id"], name="ledger_limit_wallet_id")]

    def __str__(self) -> str:
        return f"wallet {self.wallet_id}: daily limit {self.old_limit} -> {self.new_limit}"


class VerificationRun(models.Model):
    """The outcome of one reconciliation of the ledger (``verify_ledger``), for monitoring.

    ``/metrics`` reads the newest row (one step down the primary key) as
    ``paylane_ledger_last_verify_*``: when the ledger was last checked and
    whether it was found intact. A signal for operations, not evidence: the
    evidence is ``verify_ledger`` itself, which anyone can run again.
    """

    id = models.BigAutoField(primary_key=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    ok = models.BooleanField()
    findings = models.PositiveIntegerField()
    # Who ran it: the command, or a scheduled job.
    source = models.CharField(max_length=32, default="verify_ledger")

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"verification {self.id}: {'ok' if self.ok else f'{self.findings} finding(s)'} at {self.finished_at}"


class ReversalProposal(AppendOnlyModel):
    """A staff member's proposal to reverse (part of) a transfer, with the reason: step one of two.

    Append-only, like the ledger: what happened to it is told by its decisions
    (``ReversalDecision``), never by editing it. Open until a decision closes it.
    """

    id = models.BigAutoField(primary_key=True)
    entry = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="reversal_proposals")
    amount = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES)
    reason = models.CharField(max_length=500)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="ledger_reversal_amount_positive"),
            models.CheckConstraint(condition=~models.Q(reason=""), name="ledger_reversal_reason_given"),
        ]

    def __str__(self) -> str:
        return f"reversal proposal {self.id} of ledger entry {self.entry_id} ({self.amount})"


class ReversalDecision(AppendOnlyModel):
    """What a second staff member did with a ``ReversalProposal``: approved it, refused it, or tried to.

    * APPROVED: the REVERSAL was made (``reversal``, a SUCCESS ledger row); closes the proposal.
    * FAILED: approved, but the receiver's balance did not cover it; ``reversal`` is the FAILED
      REVERSAL row that records the attempt, and the proposal stays open.
    * REFUSED: with a reason; closes the proposal, no ledger row.

    The decider is never the proposer (ASVS 2.3.5: two people): held by the service and by a CHECK
    on ``proposed_by``, the proposal's proposer copied here. ``closes`` is the proposal on a
    closing decision (APPROVED, REFUSED) and null on a FAILED attempt: its UNIQUE index lets a
    proposal be closed once, whatever races.
    """

    class Outcome(models.TextChoices):
        APPROVED = "APPROVED", "Approved: reversed"
        FAILED = "FAILED", "Approved, but the receiver's balance did not cover it"
        REFUSED = "REFUSED", "Refused"

    id = models.BigAutoField(primary_key=True)
    proposal = models.ForeignKey(ReversalProposal, on_delete=models.PROTECT, related_name="decisions")
    closes = models.OneToOneField(
        ReversalProposal, on_delete=models.PROTECT, null=True, blank=True, related_name="closing_decision"
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=500, blank=True, default="")
    reversal = models.OneToOneField(
        Transaction, on_delete=models.PROTECT, null=True, blank=True, related_name="reversal_decision"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(decided_by=models.F("proposed_by")), name="ledger_reversal_two_people"
            ),
            models.CheckConstraint(
                condition=models.Q(outcome="APPROVED", reversal__isnull=False, closes=models.F("proposal"))
                | models.Q(outcome="FAILED", reversal__isnull=False, closes__isnull=True)
                | (
                    models.Q(outcome="REFUSED", reversal__isnull=True, closes=models.F("proposal"))
                    & ~models.Q(reason="")
                ),
                name="ledger_reversal_outcome_matches",
            ),
        ]

    def __str__(self) -> str:
        return f"reversal decision {self.id} on proposal {self.proposal_id}: {self.outcome}"
