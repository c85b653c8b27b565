"""Reads of the ledger: which entries a user may see, the seal horizon and chain, a user's replay, exports,
and the figures operations watch."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock
from decimal import Decimal
from typing import Any

from django.db import connection, connections
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from ledger.history import NO_FILTER, HistoryFilter
from ledger.models import Seal, Transaction, VerificationRun
from ledger.money import ZERO, MoneySum
from ledger.replica import read_alias

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


# --- Which entries a user may see: the one rule, for pages, API, websocket and audits ----------
#
# A user sees every entry they sent, whatever its status (their own FAILED attempts
# included), and the SUCCESS entries they received (a FAILED attempt moved nothing
# to its receiver and is shown to its sender only). ``user`` is an id or an
# ``OuterRef`` to one.


def _sent_by(user: int | OuterRef) -> Q:
    return Q(sender_id=user)


def _received_by(user: int | OuterRef) -> Q:
    return Q(receiver_id=user, status=Transaction.Status.SUCCESS)


def visible_to(user: int | OuterRef) -> Q:
    """The rule as one filter (for a single entry, or a count)."""
    return _sent_by(user) | _received_by(user)


def entries_visible_to(
    *,
    user_id: int,
    limit: int,
    before_id: int | None = None,
    after_id: int | None = None,
    oldest_first: bool = False,
    filters: HistoryFilter = NO_FILTER,
) -> list[Transaction]:
    """A keyset page of the entries ``user_id`` may see, with their parties: up to ``limit`` entries
    with ids below ``before_id`` (the newest of them), or just above ``after_id`` (the oldest of
    them); newest first, or oldest first with ``oldest_first``.

    Per user, ledger ids follow commit order, so a page never misses a row that
    commits later: new rows only ever appear above the newest page. Each side
    of the rule is a range scan of its (party, id) index and both run in one
    statement (one snapshot: two statements could straddle a commit and skip an
    entry for good). ``sent OR received`` with ORDER BY id and LIMIT lets
    PostgreSQL walk the primary key instead, which for a quiet user in a large
    ledger reads most of the table. ``filters`` (``ledger.history``) narrow each
    side, or drop it (``direction``); docs/performance.md shows the index each uses.
    """
    statement = visible_page_sql(user_id=user_id, limit=limit, before_id=before_id, after_id=after_id, filters=filters)
    if statement is None:
        return []
    # Raw SQL goes where the ORM's reads go now (the replica inside replica_reads()).
    with connections[read_alias()].cursor() as cursor:
        cursor.execute(*statement)
        ids = sorted((row[0] for row in cursor.fetchall()), reverse=not oldest_first)
    if not ids:
        return []
    entries = Transaction.objects.select_related("sender", "receiver").in_bulk(ids)
    return [entries[pk] for pk in ids]


# A branch with a range or text filter first looks among the user's newest this many rows of
# its side (a short walk down the (party, id) index) before it searches the older ones.
HISTORY_WINDOW = 1000
# Above every id (PostgreSQL's bigint).
_NO_ID = 2**63 - 1


def visible_page_sql(
    *,
    user_id: int,
    limit: int,
    before_id: int | None = None,
    after_id: int | None = None,
    filters: HistoryFilter = NO_FILTER,
) -> tuple[str, list[Any]] | None:
    """The one statement ``entries_visible_to`` runs for a page's ids (None: no side can match);
    ``bench/history_plans.py`` EXPLAINs it as it is.

    Each branch (a side of the visibility rule, narrowed) takes its newest ``limit`` ids. With no
    filter, or filters whose index keeps the id order ((party, other party, id), (party, type, id),
    (party, status, id)), that is a walk down the index that stops after ``limit`` rows. A range
    (dates, amounts) or a text search has no index in id order; left to itself PostgreSQL walks
    the primary key newest first and filters, which reads a large part of the ledger when the
    matches are old or rare. So on PostgreSQL such a branch runs in two parts split at an id (the
    floor): the user's newest ``HISTORY_WINDOW`` rows of the side, read through the (party, id)
    index (enough when matches are common), and only if they hold fewer than ``limit`` matches, the older rows,
    found through the (party, created_at), (party, amount) or trigram index first (``OFFSET 0``
    keeps PostgreSQL from walking the primary key) and then sorted. Any floor splits the ids in
    two, so the page is the same whatever it is; the cost is bounded by the user's own rows,
    never by the ledger's (docs/performance.md, "History filters").
    """
    ascending = after_id is not None
    order = "ASC" if ascending else "DESC"
    split = filters.out_of_id_order and connection.vendor == "postgresql"
    parts: list[tuple[str, list[Any]]] = []
    for sent, side in ((True, _sent_by(user_id)), (False, _received_by(user_id))):
        party = Q(sender_id=user_id) if sent else Q(receiver_id=user_id)
        for narrowed in filters.side(sent=sent):
            rows = Transaction.objects.filter(side, narrowed)
            mine = Transaction.objects.filter(party)
            if after_id is not None:
                rows, mine = rows.filter(id__gt=after_id), mine.filter(id__gt=after_id)
            elif before_id is not None:
                rows, mine = rows.filter(id__lt=before_id), mine.filter(id__lt=before_id)
            newest_first = "id" if ascending else "-id"
            if not split:
                query = rows.order_by(newest_first).values_list("id", flat=True)[:limit].query
                sql, params = query.sql_with_params()
                parts.append((sql, list(params)))
                continue
            # The window: the party's newest HISTORY_WINDOW ids from the page's bound (its index
            # alone), then those rows that match. The floor: the last of those ids; a side with
            # fewer rows is all window.
            recent = mine.order_by(newest_first).values("id")
            window = rows.filter(id__in=recent[:HISTORY_WINDOW])
            floor = Coalesce(Subquery(recent[HISTORY_WINDOW - 1 : HISTORY_WINDOW]), Value(_NO_ID if ascending else 0))
            older = rows.filter(id__gt=floor) if ascending else rows.filter(id__lt=floor)
            window_sql, window_params = (
                window.order_by(newest_first).values_list("id", flat=True)[:limit].query.sql_with_params()
            )
            older_sql, older_params = older.order_by().values_list("id", flat=True).query.sql_with_params()
            n = len(parts)
            parts.append(
                (
                    f"WITH w{n} AS MATERIALIZED ({window_sql}) SELECT id FROM w{n} UNION ALL "
                    f"(SELECT id FROM ({older_sql} OFFSET 0) f{n} WHERE (SELECT count(*) FROM w{n}) < %s "
                    f"ORDER BY id {order} LIMIT %s)",
                    [*window_params, *older_params, limit, limit],
                )
            )
    if not parts:
        return None
    # The two sides never share a row; a row can match both branches of one side (note and name).
    glue = " UNION ALL " if filters.text is None else " UNION "
    union = glue.join(f"SELECT id FROM ({sql}) s{n}" for n, (sql, _) in enumerate(parts))
    return f"{union} ORDER BY id {order} LIMIT %s", [*(p for _, params in parts for p in params), limit]


def entry_visible_to(*, user_id: int, entry_id: int) -> Transaction | None:
    """One entry, with its parties, if ``user_id`` may see it; else None."""
    return Transaction.objects.filter(visible_to(user_id), pk=entry_id).select_related("sender", "receiver").first()


def last_visible_ids(user: int | OuterRef) -> tuple[Subquery, Subquery]:
    """Subqueries for the newest entry ``user`` sent and the newest they received (each may be NULL):
    the larger is the user's last seq. Each is one step down its (party, id) index."""
    newest = Transaction.objects.order_by("-id").values("id")
    return Subquery(newest.filter(_sent_by(user))[:1]), Subquery(newest.filter(_received_by(user))[:1])


# --- A user's rows, for the audit ---------------------------------------------------------------


def ledger_for_user(*, user_id: int) -> QuerySet[Transaction]:
    """Every row that concerns the user (as sender or receiver, FAILED included), newest first."""
    return (
        Transaction.objects.filter(Q(sender_id=user_id) | Q(receiver_id=user_id))
        .select_related("sender", "receiver")
        .order_by("-id")
    )


@dataclass(frozen=True)
class Replay:
    credits: Decimal
    debits: Decimal
    balance: Decimal
    entries: int


def _credits_and_debits(rows: QuerySet[Transaction], *, user_id: int) -> tuple[Decimal, Decimal]:
    """What ``rows`` paid to the user and what the user paid out in them."""
    received = rows.filter(receiver_id=user_id).aggregate(total=MoneySum("amount"))["total"] or ZERO
    sent = rows.filter(sender_id=user_id).aggregate(total=MoneySum("amount"))["total"] or ZERO
    return received, sent


def wallet_replay(*, user_id: int) -> Replay:
    """The balance and entry count that the user's SUCCESS rows replay to."""
    success = Transaction.objects.filter(status=Transaction.Status.SUCCESS)
    received, sent = _credits_and_debits(success, user_id=user_id)
    entries = success.filter(Q(sender_id=user_id) | Q(receiver_id=user_id)).count()
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


def replay_signed_total(*, user_id: int, after_id: int) -> Decimal:
    """Credits minus debits of the user's SUCCESS rows with id > ``after_id`` (to replay a page)."""
    received, sent = _credits_and_debits(
        Transaction.objects.filter(status=Transaction.Status.SUCCESS, id__gt=after_id), user_id=user_id
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


# --- What operations watch (read at every /metrics scrape: index lookups only) ------------------


@dataclass(frozen=True)
class LedgerGauges:
    # Ledger ids issued above the last seal's range: the rows still to seal (an upper
    # bound: an id drawn by a transaction that rolled back leaves a gap, counted here).
    unsealed_rows: int
    last_seal_at: datetime | None
    last_verification: VerificationRun | None


def ledger_gauges() -> LedgerGauges:
    """Three steps down a primary key, no scan: the newest row's id, the newest seal, the newest verification."""
    newest_id = Transaction.objects.order_by("-id").values_list("id", flat=True).first() or 0
    seal = Seal.objects.order_by("-id").values_list("last_id", "created_at").first()
    sealed_to, sealed_at = seal if seal is not None else (0, None)
    return LedgerGauges(
        unsealed_rows=max(0, newest_id - sealed_to),
        last_seal_at=sealed_at,
        last_verification=VerificationRun.objects.order_by("-id").first(),
    )


def seal_covering(*, entry_id: int) -> Seal | None:
    """The seal whose block holds ledger row ``entry_id``, or None while no seal reaches it.

    Blocks tile the id space (``after_id < id <= last_id``, each ``after_id`` the previous
    ``last_id``): the seal with the largest ``after_id`` below the id is the only candidate,
    one step down its unique index.
    """
    seal = Seal.objects.filter(after_id__lt=entry_id).order_by("-after_id").first()
    return seal if seal is not None and seal.last_id >= entry_id else None
