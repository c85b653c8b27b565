"""The ledger's one write path: ledger rows, seals, daily-limit audit records and verification runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from ledger import hashing, selectors
from ledger.models import DailyLimitChange, ReversalDecision, ReversalProposal, Seal, Transaction, VerificationRun
from ledger.statements import Insert

# Arbitrary constant key of the sealers' PostgreSQL advisory lock ("PAYLSEAL").
SEALER_LOCK_KEY = 0x5041594C5345414C
# The ledger row INSERT, compiled once per database alias (ledger/statements.py).
_ENTRY_INSERT = Insert(Transaction)


@dataclass(frozen=True)
class Party:
    """One side of a ledger row: a user, and their wallet's balance and version just after it.

    The figures are None for the receiver of a FAILED attempt (nothing moved).
    """

    user_id: int
    balance: Decimal | None = None
    version: int | None = None


def entry_append(
    *,
    transaction_type: str,
    amount: Decimal,
    receiver: Party,
    sender: Party | None = None,
    status: str = Transaction.Status.SUCCESS,
    failure_reason: str = "",
    created_at: datetime | None = None,
    note: str = "",
    corrects_id: int | None = None,
) -> Transaction:
    """Insert one ledger row with each party's balance and version after it.

    Call inside the caller's transaction, with the parties' balances locked
    (for a FAILED row, the sender's) and their new figures already written:
    the row copies them. A FAILED row records no receiver figures.
    ``created_at`` is the caller's one clock reading for the whole movement
    (the day its daily limit counted is the day of this time); now by default.
    The row's SHA-256 (``ledger/hashing.py``) is computed here from the values
    about to be inserted: no query and no lock beyond the caller's.
    """
    failed = status == Transaction.Status.FAILED
    entry = Transaction(
        transaction_type=transaction_type,
        status=status,
        amount=amount,
        currency=settings.PAYLANE_CURRENCY,
        sender_id=sender.user_id if sender else None,
        receiver_id=receiver.user_id,
        sender_balance_after=sender.balance if sender else None,
        sender_version_after=sender.version if sender else None,
        receiver_balance_after=None if failed else receiver.balance,
        receiver_version_after=None if failed else receiver.version,
        failure_reason=failure_reason,
        created_at=created_at or timezone.now(),
        note=note,
        corrects_id=corrects_id,
    )
    entry.row_hash = hashing.row_hash_compute({name: getattr(entry, name) for name in hashing.HASHED_FIELDS})
    _ENTRY_INSERT.save(entry)
    return entry


def daily_limit_change_record(
    *, wallet_id: int, actor_id: int | None, old_limit: Decimal | None, new_limit: Decimal | None
) -> DailyLimitChange:
    """Append the audit record of a daily-limit override change.

    Call inside the caller's transaction with the wallet locked
    (``wallets.services.wallet_set_daily_limit``). ``actor_id`` None means a
    change made without a signed-in person (a shell, a data fix).
    """
    return DailyLimitChange.objects.create(
        wallet_id=wallet_id,
        changed_by_id=actor_id,
        old_limit=old_limit,
        new_limit=new_limit,
        changed_at=timezone.now(),
    )


def reversal_proposal_record(
    *, entry_id: int, amount: Decimal, reason: str, proposed_by_id: int, created_at: datetime | None = None
) -> ReversalProposal:
    """Append a staff member's proposal to reverse ``amount`` of ledger entry ``entry_id``, with the reason.

    Call inside the caller's transaction (``wallets.reversals.reversal_propose``, with the entry's
    wallets locked). Append-only: what becomes of it is a ``ReversalDecision``.
    """
    return ReversalProposal.objects.create(
        entry_id=entry_id,
        amount=amount,
        reason=reason,
        proposed_by_id=proposed_by_id,
        created_at=created_at or timezone.now(),
    )


def reversal_decision_record(
    *,
    proposal: ReversalProposal,
    outcome: str,
    decided_by_id: int,
    reason: str = "",
    reversal_id: int | None = None,
    created_at: datetime | None = None,
) -> ReversalDecision:
    """Append what a second staff member did with ``proposal`` (approved, tried to, refused).

    Call inside the caller's transaction, with the proposal's entry's wallets
    locked (``wallets.reversals``). A closing outcome (APPROVED, REFUSED) names
    the proposal in ``closes``, whose UNIQUE index refuses a second one; the
    CHECKs refuse a decider who is the proposer.
    """
    closing = outcome in (ReversalDecision.Outcome.APPROVED, ReversalDecision.Outcome.REFUSED)
    return ReversalDecision.objects.create(
        proposal=proposal,
        closes=proposal if closing else None,
        outcome=outcome,
        decided_by_id=decided_by_id,
        proposed_by_id=proposal.proposed_by_id,
        reason=reason,
        reversal_id=reversal_id,
        created_at=created_at or timezone.now(),
    )


def seal_block_append(*, horizon: int, max_rows: int) -> Seal | None:
    """Seal the next block of at most ``max_rows`` rows with ids up to ``horizon``.

    Call inside a transaction. Locks: on PostgreSQL the sealers' advisory lock
    (sealers queue behind each other; transfers never take it). Reads only
    committed rows and inserts one seal row, so it never waits for a transfer
    and no transfer waits for it. Returns None when nothing is left to seal.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [SEALER_LOCK_KEY])
    tip = selectors.seal_tip()
    after_id = tip.last_id if tip else 0
    if horizon <= after_id:
        return None
    rows = selectors.block_rows(after_id=after_id, last_id=horizon, limit=max_rows)
    if not rows:
        return None
    last_id = horizon if len(rows) < max_rows else rows[-1][0]
    block_hash, row_count = hashing.block_hash_compute(rows)
    prev_hash = tip.seal_hash if tip else hashing.GENESIS_HASH
    return Seal.objects.create(
        after_id=after_id,
        last_id=last_id,
        row_count=row_count,
        block_hash=block_hash,
        prev_hash=prev_hash,
        seal_hash=hashing.seal_hash_compute(
            after_id=after_id, last_id=last_id, row_count=row_count, block_hash=block_hash, prev_hash=prev_hash
        ),
        created_at=timezone.now(),
    )


@dataclass(frozen=True)
class SealRun:
    seals: list[Seal]
    horizon: int
    # Transactions that held ledger ids at the start and had not ended within the wait.
    unsettled: int


def ledger_seal(*, max_rows: int = 10_000, settle_timeout: float = 5.0) -> SealRun:
    """Seal every committed ledger row below the safe horizon, block by block.

    The horizon (``selectors.seal_horizon``) is the highest id such that no
    row at or below it can still commit: on PostgreSQL, the sequence's last
    value once every transaction that was then writing the ledger has ended
    (waiting at most ``settle_timeout`` seconds; if they have not, nothing is
    sealed this run). Each block is its own short durable transaction.
    Side effects: Seal rows. Locks: the sealers' advisory lock only.
    """
    horizon, unsettled = selectors.seal_horizon(settle_timeout=settle_timeout)
    seals: list[Seal] = []
    while True:
        with transaction.atomic(durable=True):
            seal = seal_block_append(horizon=horizon, max_rows=max_rows)
        if seal is None:
            return SealRun(seals=seals, horizon=horizon, unsettled=unsettled)
        seals.append(seal)


def verification_record(
    *, started_at: datetime, ok: bool, findings: int, source: str = "verify_ledger"
) -> VerificationRun:
    """Record the outcome of one reconciliation (``ledger_reconcile``) for ``/metrics``.

    Call after the reconciliation's read snapshot has ended (it is read-only).
    Transaction: the ORM's own INSERT. Locks: none. Side effects: one row,
    read back as ``paylane_ledger_last_verify_*`` by the next scrape.
    """
    return VerificationRun.objects.create(
        started_at=started_at, finished_at=timezone.now(), ok=ok, findings=findings, source=source
    )
