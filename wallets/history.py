"""History filters as people and programs send them: one parser for the API and the history page.

``history_query_parse`` reads the query string (``since``, ``until``, ``counterparty``,
``direction``, ``type``, ``status``, ``min_amount``, ``max_amount``, ``q``) into a
``HistoryQuery`` or refuses it with ``InvalidFilter`` naming the field. The patterns
here are also what the OpenAPI schema states (``wallets/api/openapi.py``), so a value the
schema allows is one this parser reads. Which entries the filters then select is
``wallets.selectors.transactions_page_for_user``'s business.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import cast

from ledger.history import Direction
from ledger.models import Transaction
from wallets import notes
from wallets.errors import InvalidAmount, InvalidFilter
from wallets.money import amount_parse

FIELDS = ("since", "until", "counterparty", "direction", "type", "status", "min_amount", "max_amount", "q")

# A calendar date as YYYY-MM-DD that exists: months of 31 and 30 days, February of 28, and the
# 29th of February in leap years (every 4th year, not every 100th, every 400th); no year 0000.
_MONTH_DAY = (
    "(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    "|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    "|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_LEAP_YEAR = "(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)"
DATE_PATTERN = f"(?!0000)(?:[0-9]{{4}}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_DATE = re.compile(DATE_PATTERN)

# A user id: digits, at most 18 (as the page's keyset bounds).
COUNTERPARTY_MAX_DIGITS = 18
COUNTERPARTY_PATTERN = f"[0-9]{{1,{COUNTERPARTY_MAX_DIGITS}}}"
_COUNTERPARTY = re.compile(COUNTERPARTY_PATTERN)

# Text searched for in notes and the other party's username: at most a username's length,
# none of the characters a note refuses (NUL, which PostgreSQL cannot compare, among them).
Q_MAX_LENGTH = 150
_Q = re.compile(rf"[^{notes.FORBIDDEN}\ud800-\udfff]{{1,{Q_MAX_LENGTH}}}")

DIRECTIONS = ("in", "out")
TYPES = tuple(Transaction.Type.values)
STATUSES = tuple(Transaction.Status.values)


@dataclass(frozen=True)
class HistoryQuery:
    """The filters a caller asked for; None: not asked. ``since`` and ``until`` are inclusive days in TIME_ZONE."""

    since: date | None = None
    until: date | None = None
    counterparty: int | None = None
    direction: Direction | None = None
    type: str | None = None
    status: str | None = None
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    q: str | None = None

    def params(self) -> dict[str, str]:
        """The filters as query parameters, in their canonical form (for the links to other pages)."""
        out: dict[str, str] = {}
        for name in FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value.isoformat() if isinstance(value, date) else str(value)
        return out

    def __bool__(self) -> bool:
        return bool(self.params())


NO_QUERY = HistoryQuery()


def _one_of(name: str, raw: str, allowed: tuple[str, ...]) -> str:
    if raw not in allowed:
        raise InvalidFilter(f"{name} is one of {', '.join(allowed)}.", field=name)
    return raw


def _day(name: str, raw: str) -> date:
    if not _DATE.fullmatch(raw):
        raise InvalidFilter(f"{name} is a date that exists, as YYYY-MM-DD (2026-11-30).", field=name)
    return date.fromisoformat(raw)


def _amount(name: str, raw: str) -> Decimal:
    try:
        return amount_parse(raw)
    except InvalidAmount as error:
        raise InvalidFilter(f"{name}: {error.message}", field=name) from None


def history_query_parse(params: Mapping[str, str]) -> HistoryQuery:
    """Read the filters from ``params`` (a query string); parameters not listed in FIELDS are ignored.

    Raises ``InvalidFilter`` (field: the parameter) for the first one that cannot be read, and for
    ``since`` after ``until`` or ``min_amount`` above ``max_amount``. A ``q`` of spaces only is no filter.
    """
    get = params.get
    since = _day("since", raw) if (raw := get("since")) is not None else None
    until = _day("until", raw) if (raw := get("until")) is not None else None
    if since is not None and until is not None and since > until:
        raise InvalidFilter("until is a day on or after since.", field="until")
    counterparty = None
    if (raw := get("counterparty")) is not None:
        if not _COUNTERPARTY.fullmatch(raw):
            raise InvalidFilter(
                f"counterparty is a user id: up to {COUNTERPARTY_MAX_DIGITS} digits.", field="counterparty"
            )
        counterparty = int(raw)
    direction = _one_of("direction", raw, DIRECTIONS) if (raw := get("direction")) is not None else None
    type_ = _one_of("type", raw, TYPES) if (raw := get("type")) is not None else None
    status = _one_of("status", raw, STATUSES) if (raw := get("status")) is not None else None
    min_amount = _amount("min_amount", raw) if (raw := get("min_amount")) is not None else None
    max_amount = _amount("max_amount", raw) if (raw := get("max_amount")) is not None else None
    if min_amount is not None and max_amount is not None and min_amount > max_amount:
        raise InvalidFilter("max_amount is at least min_amount.", field="max_amount")
    q = None
    if (raw := get("q")) is not None:
        if not _Q.fullmatch(raw):
            raise InvalidFilter(f"q is 1 to {Q_MAX_LENGTH} characters, without control characters.", field="q")
        q = raw.strip() or None
    return HistoryQuery(
        since=since,
        until=until,
        counterparty=counterparty,
        direction=cast("Direction | None", direction),
        type=type_,
        status=status,
        min_amount=min_amount,
        max_amount=max_amount,
        q=q,
    )
