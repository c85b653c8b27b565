"""Reads of the ledger: the seal horizon and chain, a user's history and replay, exports."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal

from django.db import connection
from django.db.models import Q, QuerySet
from django.db.models.functions import Lower
from django.utils import timezone

from ledger.models import Seal, Transaction
from wallets.errors import WalletError
from wallets.models import Profile, User
from wallets.money import ZERO, MoneySum
from wallets.phone import mobile_normalize

# How often the sealer looks again at the transactions it waits for.
_SETTLE_POLL_SECONDS = 0.02


def seal_tip() -> Seal | None:
    return Seal.objects.order_by("-id").first()


def block_rows(*, after_id: int, last_id: int, limit: int | None = None) -> list[tuple[int, str]]:
    """``(id, row_hash)`` of the committed rows with ``after_id < id <= last_id``, in id order."""
    rows = Transaction.objects.filter(id__gt=after_id, id__lte=last_id).order_by("id").values_list("id", "row_hash")
    return list(rows[:limit] if limit else rows)


def seal_horizon(*, settle_timeout: float) -> tuple[int, int]:
    """The highest ledger id below which no row can still appear, and how many writers did not settle.

    SQLite has one writer at a time, so ids are assigned in commit order and
    the largest committed id is safe. PostgreSQL hands out ids from a sequence
    at INSERT time, and transactions commit in any order: id 100 may commit
    after id 101. So: read the sequence's last value L (every id handed out
    so far, committed or not), then list the transactions holding the lock
    that an INSERT into the ledger takes *before* it draws an id (so every
    holder of an id <= L is among them, or already ended), and wait for those
    to end. Then every row with id <= L is committed or never will be. If
    they do not all end within ``settle_timeout``, the horizon is 0 (seal
    nothing this run). The wait takes no lock: transfers carry on.
    """
    if connection.vendor != "postgresql":
        last = Transaction.objects.order_by("-id").values_list("id", flat=True).first()
        return (last or 0), 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence('ledger_transaction', 'id')")
        sequence = cursor.fetchone()[0]
        cursor.execute(f"SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM {sequence}")
        last_value = int(cursor.fetchone()[0])
        writers_sql = (
            "SELECT DISTINCT virtualtransaction FROM pg_locks WHERE locktype = 'relation' "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND relation = 'ledger_transaction'::regclass AND mode = 'RowExclusiveLock' "
            "AND pid <> pg_backend_pid()"
        )
        cursor.execute(writers_sql)
        waiting = {row[0] for row in cursor.fetchall()}
        deadline = time.monotonic() + settle_timeout
        while waiting:
            if time.monotonic() >= deadline:
                return 0, len(waiting)
            time.sleep(_SETTLE_POLL_SECONDS)
            cursor.execute(writers_sql)
            waiting &= {row[0] for row in cursor.fetchall()}
    return last_value, 0


# --- A user's ledger ------------------------------------------------------------------------


def ledger_for_user(*, user: User) -> QuerySet[Transaction]:
    """Every row that concerns ``user`` (as sender or receiver, FAILED included), newest first."""
    return (
        Transaction.objects.filter(Q(sender=user) | Q(receiver=user))
        .select_related("sender", "receiver")
        .order_by("-id")
    )


@dataclass(frozen=True)
class Replay:
    credits: Decimal
    debits: Decimal
    balance: Decimal
    entries: int


def _credits_and_debits(rows: QuerySet[Transaction], *, user: User) -> tuple[Decimal, Decimal]:
    """What ``rows`` paid to ``user`` and what ``user`` paid out in them."""
    received = rows.filter(receiver=user).aggregate(total=MoneySum("amount"))["total"] or ZERO
    sent = rows.filter(sender=user).aggregate(total=MoneySum("amount"))["total"] or ZERO
    return received, sent


def wallet_replay(*, user: User) -> Replay:
    """The balance and entry count that the user's SUCCESS rows replay to."""
    success = Transaction.objects.filter(status=Transaction.Status.SUCCESS)
    received, sent = _credits_and_debits(success, user=user)
    entries = success.filter(Q(sender=user) | Q(receiver=user)).count()
    return Replay(credits=received, debits=sent, balance=received - sent, entries=entries)


# --- Export ---------------------------------------------------------------------------------


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, clock.min))


def ledger_for_export(*, since: date | None = None, until: date | None = None) -> QuerySet[Transaction]:
    """Ledger rows in id order, ``since`` and ``until`` both inclusive local calendar days (TIME_ZONE)."""
    rows = Transaction.objects.select_related("sender", "receiver").order_by("id")
    if since is not None:
        rows = rows.filter(created_at__gte=_day_start(since))
    if until is not None:
        rows = rows.filter(created_at__lt=_day_start(until + timedelta(days=1)))
    return rows


# --- Admin search ---------------------------------------------------------------------------


def user_ids_matching(*, term: str) -> list[int]:
    """Users whose username (any case) or mobile number is exactly ``term``: index lookups, no scan."""
    ids = list(User.objects.annotate(lname=Lower("username")).filter(lname=term.lower()).values_list("id", flat=True))
    try:
        mobile = mobile_normalize(term)
    except WalletError:
        return ids
    return ids + list(Profile.objects.filter(mobile_number=mobile).values_list("user_id", flat=True))


def replay_signed_total(*, user: User, after_id: int) -> Decimal:
    """Credits minus debits of ``user``'s SUCCESS rows with id > ``after_id`` (to replay a page)."""
    received, sent = _credits_and_debits(
        Transaction.objects.filter(status=Transaction.Status.SUCCESS, id__gt=after_id), user=user
    )
    return received - sent


def ledger_estimated_rows() -> int | None:
    """The planner's row estimate for the ledger on PostgreSQL (no scan), else None."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = 'ledger_transaction'::regclass")
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] >= 0 else None
