"""Do the wallets follow from the ledger? The wallets' check in every reconciliation (``verify_ledger``).

* money is conserved: the sum of all balances equals the sum of successful top-ups;
* every wallet's balance equals the replay of its SUCCESS entries (credits
  minus debits), and its ``version`` equals their count;
* every wallet's daily-limit counter for the run's day equals the ledger's sum
  of its successful outgoing transfers that day.

Registered with the ledger (``ledger.reconcile.check_register``) by the wallets
app, so it reads the ledger's snapshot and the run's one clock reading. So is
``append_only_findings``: the wallets' own append-only tables (the admin
sign-in record) keep the ledger's triggers.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count
from django.utils import timezone

from ledger.models import Transaction
from ledger.money import ZERO, MoneySum
from ledger.reconcile import Finding, trigger_findings
from wallets.accounts.signins import APPEND_ONLY_TABLES
from wallets.limits import spent_on_day
from wallets.models import Wallet


def balance_findings(today: date) -> list[Finding]:
    """Balances, versions, daily counters for ``today`` and conservation (a ledger check: runs in its snapshot)."""
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
        counter = spent_on_day(wallet, today)
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

    return findings


def append_only_findings(today: date) -> list[Finding]:
    """The wallets' append-only tables checked as the ledger checks its own (``ledger.reconcile.trigger_findings``)."""
    return trigger_findings(APPEND_ONLY_TABLES)
