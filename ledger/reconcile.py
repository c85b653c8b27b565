"""Reconciliation: does every balance follow from the ledger?

Checks, each a ``Finding`` when it fails:
* money is conserved: the sum of all balances equals the sum of successful top-ups;
* every wallet's balance equals the replay of its SUCCESS entries (credits
  minus debits), and its ``version`` equals their count;
* every wallet's daily-limit counter for today equals the ledger's sum of its
  successful outgoing transfers today;
* the append-only triggers are installed;
* every row's content still matches its SHA-256 (each mismatch names the row);
* every seal still matches its block and the chain links up (the first bad
  block is named: everything after it is no longer vouched for).

Every check reads the same committed state (``ledger.snapshot``): a transfer
committing while ``verify_ledger`` runs is seen in full or not at all, so it
can never show up as a mismatch. The clock is read once per run, inside that
snapshot, so the daily-limit check compares one calendar day on both sides
even when a run spans midnight.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connection
from django.db.models import Count
from django.utils import timezone

from ledger import hashing, triggers
from ledger.models import Seal, Transaction
from ledger.snapshot import ledger_snapshot
from wallets.models import Wallet
from wallets.money import ZERO, MoneySum


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.message}"


def ledger_reconcile() -> list[Finding]:
    """Every check above, on one snapshot (joins the caller's if it already opened one)."""
    with ledger_snapshot():
        # After the snapshot is fixed: no row it holds is dated later than this.
        today = timezone.localdate()
        findings = balance_findings(today=today)
        findings += row_hash_findings()
        findings += seal_findings()
    return findings


def balance_findings(*, today: date) -> list[Finding]:
    """Balances, versions, daily counters for ``today``, conservation and triggers (call in a snapshot)."""
    findings: list[Finding] = []
    success = Transaction.objects.filter(status=Transaction.Status.SUCCESS)

    credits: dict[int, tuple[Decimal, int]] = {
        row["receiver_id"]: (row["total"], row["n"])
        for row in success.values("receiver_id").order_by().annotate(total=MoneySum("amount"), n=Count("id"))
    }
    debits: dict[int, tuple[Decimal, int]] = {
        row["sender_id"]: (row["total"], row["n"])
        for row in success.filter(sender__isnull=False)
        .values("sender_id")
        .order_by()
        .annotate(total=MoneySum("amount"), n=Count("id"))
    }
    # Both ends from the calendar, not start + 24 h: a day with a DST change is not 24 hours long.
    start = timezone.make_aware(datetime.combine(today, time.min))
    end = timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))
    spent_today: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for row in (
        success.filter(transaction_type=Transaction.Type.TRANSFER, created_at__gte=start, created_at__lt=end)
        .values("sender_id")
        .order_by()
        .annotate(total=MoneySum("amount"))
    ):
        spent_today[row["sender_id"]] = row["total"]

    total_balance = ZERO
    for wallet in Wallet.objects.select_related("user").order_by("id").iterator(chunk_size=2000):
        total_balance += wallet.balance
        credit, n_in = credits.get(wallet.user_id, (ZERO, 0))
        debit, n_out = debits.get(wallet.user_id, (ZERO, 0))
        subject = f"wallet {wallet.pk} (user {wallet.user_id} {wallet.user.username})"
        if credit - debit != wallet.balance:
            findings.append(
                Finding("balance", subject, f"balance {wallet.balance} but the ledger replays to {credit - debit}")
            )
        if n_in + n_out != wallet.version:
            findings.append(
                Finding("version", subject, f"version {wallet.version} but the ledger has {n_in + n_out} entries")
            )
        counter = wallet.spent_today if wallet.spent_on == today else ZERO
        if counter != spent_today[wallet.user_id]:
            findings.append(
                Finding(
                    "daily_limit",
                    subject,
                    f"spent today {counter} but the ledger says {spent_today[wallet.user_id]}",
                )
            )

    top_ups = success.filter(transaction_type=Transaction.Type.ADD_MONEY).aggregate(total=MoneySum("amount"))["total"]
    if total_balance != (top_ups or ZERO):
        findings.append(
            Finding("conservation", "all wallets", f"balances sum to {total_balance} but top-ups to {top_ups or ZERO}")
        )

    for table in triggers.APPEND_ONLY_TABLES:
        missing = triggers.expected(connection.vendor, table) - triggers.installed(connection, table)
        if missing:
            names = ", ".join(sorted(missing))
            findings.append(Finding("triggers", table, f"missing or disabled append-only trigger(s): {names}"))
    return findings


def row_hash_findings() -> list[Finding]:
    """One finding per ledger row whose stored content no longer hashes to its ``row_hash``."""
    findings: list[Finding] = []
    rows = Transaction.objects.order_by("id").values("id", "row_hash", *hashing.ROW_FIELDS)
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
