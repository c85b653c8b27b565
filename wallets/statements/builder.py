"""A user's statement for a period, read from the ledger: the figures first, then the entries as a stream.

What a statement covers
-----------------------
A statement is a contiguous run of the user's entries, in id order: every entry
after the *opening entry* (the user's last entry dated before the period) up to
the *closing entry* (their last entry dated in it). The opening balance is the
user's balance after the opening entry and the closing balance their balance
after the closing entry, both the ledger's own ``*_balance_after`` figures (0
before the user's first entry). Per user, ledger ids follow commit order (every
entry is written with the user's wallet locked), so:

* the run is fixed when the statement is built: an entry that commits while
  the statement streams has a larger id and stays out of it, so the totals
  read first and the entries streamed after agree;
* consecutive statements tile the history: every entry is in exactly one, and
  one statement's closing balance is the next one's opening balance.

Only entries the user may see (``ledger.selectors.visible_to``, the one rule),
and of those only SUCCESS entries: a FAILED attempt moved no money, so it
changes no figure of a statement; it stays in the history
(``/transactions/``), where its reason is shown.

Memory: the figures are four aggregate and index lookups; the entries are read
with ``.iterator(chunk_size=...)`` (a server-side cursor on PostgreSQL) and
handed out one ``StatementLine`` at a time, so a year of a busy user never sits
in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from ledger.models import Seal, Transaction
from ledger.money import ZERO, MoneySum
from ledger.replica import replica_alias, replica_reads
from ledger.selectors import seal_covering, visible_to
from wallets.models import User
from wallets.statements.period import Period

CHUNK_SIZE = 2000


@dataclass(frozen=True)
class StatementLine:
    id: int
    created_at: datetime  # in TIME_ZONE
    type: str  # the ledger's code: ADD_MONEY, TRANSFER, REFUND, REVERSAL
    type_label: str
    counterparty: str  # the other party's username; "" for money added from outside
    note: str
    amount_in: Decimal | None
    amount_out: Decimal | None
    balance_after: Decimal


@dataclass(frozen=True)
class Statement:
    user_id: int
    username: str
    account_name: str
    masked_mobile: str
    currency: str
    period: Period
    generated_at: datetime  # in TIME_ZONE
    opening_balance: Decimal
    total_in: Decimal
    total_out: Decimal
    closing_balance: Decimal
    entry_count: int
    # The entry the opening and the closing balance are read from (None: before the user's first entry).
    opening_entry_id: int | None
    closing_entry_id: int | None
    # The seal whose block holds the closing entry, or None: not sealed yet (or no entry at all).
    seal: Seal | None
    chunk_size: int = CHUNK_SIZE

    def lines(self) -> Iterator[StatementLine]:
        """The period's entries in id order, read in chunks (a fresh query each call)."""
        if self.closing_entry_id is None or self.closing_entry_id == self.opening_entry_id:
            return
        rows = (
            _run(self.user_id, after_id=self.opening_entry_id, through_id=self.closing_entry_id)
            .select_related("sender", "receiver")
            .order_by("id")
            # Streamed after the view has returned, so named here: the replica when there is one.
            .using(replica_alias())
        )
        for entry in rows.iterator(chunk_size=self.chunk_size):
            yield _line(entry, user_id=self.user_id)

    @property
    def seal_text(self) -> str:
        """The seal in words, as the CSV and the PDF print it."""
        if self.seal is None:
            return "not sealed yet"
        return (
            f"seal {self.seal.pk} of ledger ids {self.seal.after_id + 1}-{self.seal.last_id}, "
            f"sealed {timezone.localtime(self.seal.created_at).isoformat(timespec='seconds')}, "
            f"SHA-256 {self.seal.seal_hash}"
        )


def _success_of(user_id: int) -> Q:
    # The one visibility rule, narrowed to entries that moved money.
    return visible_to(user_id) & Q(status=Transaction.Status.SUCCESS)


def _run(user_id: int, *, after_id: int | None, through_id: int) -> QuerySet[Transaction]:
    rows = Transaction.objects.filter(_success_of(user_id), id__lte=through_id)
    return rows.filter(id__gt=after_id) if after_id is not None else rows


def _last_before(user_id: int, moment: datetime) -> Transaction | None:
    """The user's last SUCCESS entry dated before ``moment``: one walk down each party index."""
    candidates = [
        Transaction.objects.filter(side, status=Transaction.Status.SUCCESS, created_at__lt=moment)
        .order_by("-id")
        .only("id", "sender_id", "receiver_id", "sender_balance_after", "receiver_balance_after")
        .first()
        for side in (Q(sender_id=user_id), Q(receiver_id=user_id))
    ]
    found = [entry for entry in candidates if entry is not None]
    return max(found, key=lambda entry: entry.pk) if found else None


def _balance_after(entry: Transaction | None, *, user_id: int) -> Decimal:
    if entry is None:
        return ZERO
    figure = entry.sender_balance_after if entry.sender_id == user_id else entry.receiver_balance_after
    assert figure is not None, "a SUCCESS entry carries both parties' figures"
    return figure


def _line(entry: Transaction, *, user_id: int) -> StatementLine:
    outgoing = entry.sender_id == user_id
    other = entry.receiver if outgoing else entry.sender
    return StatementLine(
        id=entry.pk,
        created_at=timezone.localtime(entry.created_at),
        type=entry.transaction_type,
        type_label=Transaction.Type(entry.transaction_type).label,
        counterparty=other.username if other is not None else "",
        note=entry.note,
        amount_in=None if outgoing else entry.amount,
        amount_out=entry.amount if outgoing else None,
        balance_after=_balance_after(entry, user_id=user_id),
    )


def mobile_mask(number: str | None) -> str:
    """``+919876543210`` -> ``+91******3210``: the country code and the last four digits."""
    if not number:
        return ""
    head, tail = (3, 4) if number.startswith("+") else (0, 4)
    hidden = max(0, len(number) - head - tail)
    return number[:head] + "*" * hidden + number[head + hidden :]


def statement_build(*, user: User, period: Period, chunk_size: int = CHUNK_SIZE) -> Statement:
    """``user``'s statement for ``period``: its figures, read now, and its entries, streamed by ``lines()``.

    Transaction: none of its own (reads only, each a single statement; the run's
    bounds make them agree, see the module docstring). Locks: none. Side effects: none.
    """
    with replica_reads():  # read-only: the replica may serve it (ledger.replica)
        generated_at = timezone.localtime()
        opening = _last_before(user.pk, period.start)
        closing = _last_before(user.pk, period.end)
        opening_id = opening.pk if opening is not None else None
        closing_id = closing.pk if closing is not None else None
        total_in = total_out = ZERO
        count = 0
        if closing_id is not None and closing_id != opening_id:
            run = _run(user.pk, after_id=opening_id, through_id=closing_id)
            # MoneySum is exact on SQLite only without a FILTER clause: one aggregate per side.
            total_in = run.filter(receiver_id=user.pk).aggregate(total=MoneySum("amount"))["total"] or ZERO
            total_out = run.filter(sender_id=user.pk).aggregate(total=MoneySum("amount"))["total"] or ZERO
            count = run.count()
        profile = getattr(user, "profile", None)
        name = " ".join(part for part in (user.first_name, user.last_name) if part.strip())
        return Statement(
            user_id=user.pk,
            username=user.username,
            account_name=name or user.username,
            masked_mobile=mobile_mask(profile.mobile_number if profile is not None else None),
            currency=settings.PAYLANE_CURRENCY,
            period=period,
            generated_at=generated_at,
            opening_balance=_balance_after(opening, user_id=user.pk),
            total_in=total_in,
            total_out=total_out,
            closing_balance=_balance_after(closing, user_id=user.pk),
            entry_count=count,
            opening_entry_id=opening_id,
            closing_entry_id=closing_id,
            seal=seal_covering(entry_id=closing_id) if closing_id is not None else None,
            chunk_size=chunk_size,
        )
