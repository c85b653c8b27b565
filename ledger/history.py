"""Filters on a user's history: plain values in, one ``Q`` per side of the visibility rule out.

``ledger.selectors.entries_visible_to`` runs each side of "which entries may this
user see" (sent by them; received by them and SUCCESS) as its own range scan and
merges them. A ``HistoryFilter`` narrows each side with the same conditions, put
in the side's own terms: on the sent side the other party is the receiver, on the
received side the sender. A filter that no row of a side can pass (``direction``,
or ``status=FAILED`` on the received side) drops that side altogether; a text search
splits each side in two branches (note, name), merged without duplicates.

The ledger knows ids, amounts and times, never names: the part of a text search
that matches the other party's name is a subquery of user ids the caller hands in
(``wallets.selectors``), ORed with the note match here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.db.models import Q

from ledger.models import Transaction

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class HistoryFilter:
    """Every field optional; all given fields must hold (AND).

    ``since`` is inclusive and ``until`` exclusive (instants: the caller turns
    calendar days into them). ``text`` matches the note, any case, anywhere in it;
    ``parties_named`` (a queryset of user ids, or None) adds the entries whose
    other party is among them to what ``text`` matches.
    """

    since: datetime | None = None
    until: datetime | None = None
    counterparty_id: int | None = None
    direction: Direction | None = None
    transaction_type: str | None = None
    status: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    text: str | None = None
    parties_named: Any = None

    @property
    def out_of_id_order(self) -> bool:
        """A range or a text search: no index lists its matches in id order (``visible_page_sql``)."""
        ranges = (self.since, self.until, self.min_amount, self.max_amount, self.text)
        return any(value is not None for value in ranges)

    def side(self, *, sent: bool) -> list[Q]:
        """The sent side (``sent=True``) or the received side as branches, each a conjunction an index
        can serve: one, or with ``text`` two (the note matches; the other party's name does), whose
        results the caller merges without duplicates. An empty list: no row of the side can match."""
        if self.direction == ("in" if sent else "out"):
            return []
        if not sent and self.status == Transaction.Status.FAILED:
            return []  # a FAILED attempt is shown to its sender only
        other = "receiver" if sent else "sender"
        q = Q()
        if self.since is not None:
            q &= Q(created_at__gte=self.since)
        if self.until is not None:
            q &= Q(created_at__lt=self.until)
        if self.counterparty_id is not None:
            q &= Q(**{f"{other}_id": self.counterparty_id})
        if self.transaction_type is not None:
            q &= Q(transaction_type=self.transaction_type)
        if self.status is not None and sent:
            q &= Q(status=self.status)
        if self.min_amount is not None:
            q &= Q(amount__gte=self.min_amount)
        if self.max_amount is not None:
            q &= Q(amount__lte=self.max_amount)
        if self.text is None:
            return [q]
        # Two branches, not one OR: "note matches OR other party in (...)" can use neither the
        # trigram index nor the (party, other party) index, and PostgreSQL walks the primary key.
        branches = [q & Q(note__icontains=self.text)]
        if self.parties_named is not None:
            branches.append(q & Q(**{f"{other}_id__in": self.parties_named}))
        return branches


NO_FILTER = HistoryFilter()
