"""Reconciliation: is the ledger intact, and does everything built on it still follow from it?

The ledger's own checks, each a ``Finding`` when it fails:
* the append-only triggers are installed and enabled;
* every row's content still matches its SHA-256 (each mismatch names the row);
* every seal still matches its block and the chain links up (the first bad
  block is named: everything after it is no longer vouched for);
* every correction (REFUND, REVERSAL) names a SUCCESS TRANSFER and goes the
  other way between the same two parties, and the SUCCESS corrections of one
  entry never add up to more than its amount; every staff reversal decision
  that names a ledger row names a REVERSAL of its proposal's entry, for the
  proposal's amount, made by someone other than the proposer.

Apps whose state must follow from the ledger register checks of their own with
``check_register`` (the wallets app: balances, versions, daily counters and
conservation, ``wallets/reconcile.py``), as Django's system checks are
registered: the ledger runs them and knows nothing of what they read.

Every check reads the same committed state (``ledger.snapshot``): a transfer
committing while ``verify_ledger`` runs is seen in full or not at all, so it
can never show up as a mismatch. The clock is read once per run, inside that
snapshot, and handed to every check, so a check that compares "today" compares
one calendar day on both sides even when a run spans midnight.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.db import connection
from django.utils import timezone

from ledger import hashing, triggers
from ledger.models import ReversalDecision, Seal, Transaction
from ledger.money import MoneySum
from ledger.snapshot import ledger_snapshot


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.message}"


# A check of another app: given the run's one calendar day, what does not follow from the ledger.
Check = Callable[[date], list[Finding]]
_checks: list[Check] = []


def check_register(check: Check) -> Check:
    """Run ``check`` in every reconciliation, in the shared snapshot (call from an AppConfig.ready)."""
    if check not in _checks:
        _checks.append(check)
    return check


def ledger_reconcile() -> list[Finding]:
    """Every registered check and the ledger's own, on one snapshot (joins the caller's if it already opened one)."""
    with ledger_snapshot():
        # After the snapshot is fixed: no row it holds is dated later than this.
        today = timezone.localdate()
        findings = [finding for check in _checks for finding in check(today)]
        findings += trigger_findings()
        findings += row_hash_findings()
        findings += seal_findings()
        findings += correction_findings()
        findings += reversal_record_findings()
    return findings


def trigger_findings(tables: Iterable[str] | None = None) -> list[Finding]:
    """One finding per append-only table with a trigger missing or disabled (the ledger's, or ``tables``)."""
    findings: list[Finding] = []
    for table in triggers.APPEND_ONLY_TABLES if tables is None else tables:
        missing = triggers.expected(connection.vendor, table) - triggers.installed(connection, table)
        if missing:
            names = ", ".join(sorted(missing))
            findings.append(Finding("triggers", table, f"missing or disabled append-only trigger(s): {names}"))
    return findings


def row_hash_findings() -> list[Finding]:
    """One finding per ledger row whose stored content no longer hashes to its ``row_hash``."""
    findings: list[Finding] = []
    rows = Transaction.objects.order_by("id").values("id", "row_hash", *hashing.HASHED_FIELDS)
    for row in rows.iterator(chunk_size=2000):
        if not row["row_hash"]:
            findings.append(Finding("row_hash", f"ledger row {row['id']}", "has no row hash"))
        elif hashing.row_hash_compute(row) != row["row_hash"]:
            findings.append(
                Finding("row_hash", f"ledger row {row['id']}", "content does not match its row hash (edited)")
            )
    return findings


def seal_findings() -> list[Finding]:
    """The first seal whose block, own hash or link to the previous seal does not match (at most one)."""
    prev_hash, prev_last = hashing.GENESIS_HASH, 0
    for seal in Seal.objects.order_by("id").iterator(chunk_size=500):
        subject = f"seal {seal.pk} (ledger ids {seal.after_id + 1}..{seal.last_id})"
        rows = Transaction.objects.filter(id__gt=seal.after_id, id__lte=seal.last_id).order_by("id")
        block_hash, count = hashing.block_hash_compute(rows.values_list("id", "row_hash").iterator(chunk_size=2000))
        expected = hashing.seal_hash_compute(
            after_id=seal.after_id,
            last_id=seal.last_id,
            row_count=seal.row_count,
            block_hash=seal.block_hash,
            prev_hash=seal.prev_hash,
        )
        problem = ""
        if seal.prev_hash != prev_hash or seal.after_id != prev_last:
            problem = "does not link to the previous seal (chain broken)"
        elif expected != seal.seal_hash:
            problem = "its own hash does not match its fields (seal edited)"
        elif count != seal.row_count:
            problem = f"block has {count} rows but the seal says {seal.row_count} (rows added or removed)"
        elif block_hash != seal.block_hash:
            problem = "block hash does not match the rows' ids and hashes (a row or its hash was changed)"
        if problem:
            return [Finding("seal", subject, f"first bad block: {problem}")]
        prev_hash, prev_last = seal.seal_hash, seal.last_id
    return []


def correction_findings() -> list[Finding]:
    """Corrections that name anything but a SUCCESS TRANSFER, go the wrong way, or add up to more than it."""
    findings: list[Finding] = []
    rows = (
        Transaction.objects.filter(corrects__isnull=False)
        .order_by("id")
        .values(
            "id",
            "transaction_type",
            "sender_id",
            "receiver_id",
            "corrects_id",
            "corrects__transaction_type",
            "corrects__status",
            "corrects__sender_id",
            "corrects__receiver_id",
        )
    )
    for row in rows.iterator(chunk_size=2000):
        subject = f"ledger row {row['id']} ({row['transaction_type']} of {row['corrects_id']})"
        if row["corrects__transaction_type"] != Transaction.Type.TRANSFER or row["corrects__status"] != "SUCCESS":
            findings.append(Finding("corrections", subject, "corrects an entry that is not a SUCCESS TRANSFER"))
        elif (row["sender_id"], row["receiver_id"]) != (row["corrects__receiver_id"], row["corrects__sender_id"]):
            findings.append(
                Finding("corrections", subject, "does not go back from the transfer's receiver to its sender")
            )
    sums = (
        Transaction.objects.filter(corrects__isnull=False, status=Transaction.Status.SUCCESS)
        .values("corrects_id", "corrects__amount")
        .order_by("corrects_id")
        .annotate(total=MoneySum("amount"))
    )
    for total_row in sums.iterator(chunk_size=2000):
        total, amount = total_row["total"], total_row["corrects__amount"]
        if total > amount:
            subject = f"ledger row {total_row['corrects_id']}"
            findings.append(
                Finding("corrections", subject, f"corrected by {total} in all, more than its amount {amount}")
            )
    return findings


def reversal_record_findings() -> list[Finding]:
    """Staff reversal decisions whose ledger row is not the REVERSAL their proposal asked for, or self-approved."""
    findings: list[Finding] = []
    decisions = ReversalDecision.objects.order_by("id").select_related("proposal", "reversal").iterator(chunk_size=500)
    for decision in decisions:
        subject = f"reversal decision {decision.pk} (proposal {decision.proposal_id})"
        proposal, row = decision.proposal, decision.reversal
        if (
            decision.decided_by_id in (proposal.proposed_by_id, None)
            or decision.proposed_by_id != proposal.proposed_by_id
        ):
            findings.append(Finding("reversals", subject, "decided by the proposer (two people are required)"))
        if row is None:
            continue
        expected_status = "SUCCESS" if decision.outcome == ReversalDecision.Outcome.APPROVED else "FAILED"
        if (
            row.transaction_type != Transaction.Type.REVERSAL
            or row.corrects_id != proposal.entry_id
            or row.amount != proposal.amount
            or row.status != expected_status
        ):
            findings.append(
                Finding("reversals", subject, f"ledger row {row.pk} is not the {expected_status} REVERSAL proposed")
            )
    return findings


def ledger_unsealed_count() -> int:
    tip = Seal.objects.order_by("-id").values_list("last_id", flat=True).first() or 0
    return Transaction.objects.filter(id__gt=tip).count()


def anchor_findings(anchors: dict[int, str]) -> list[Finding]:
    """Seals whose hash differs from a copy kept outside the database (``{seal id: seal hash}``).

    The chain proves that nothing *inside* it changed; someone who can rewrite
    rows can also rebuild every seal after them. A tip hash noted elsewhere
    (printed by ``seal_ledger``) is what catches a rebuilt chain.
    """
    findings: list[Finding] = []
    stored = dict(Seal.objects.filter(pk__in=anchors).values_list("pk", "seal_hash"))
    for seal_id, expected in sorted(anchors.items()):
        if seal_id not in stored:
            findings.append(Finding("anchor", f"seal {seal_id}", "is missing"))
        elif stored[seal_id] != expected.lower():
            findings.append(
                Finding("anchor", f"seal {seal_id}", f"hash {stored[seal_id]} but the anchor says {expected}")
            )
    return findings
