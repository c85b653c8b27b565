"""A statement's period: two calendar days in ``TIME_ZONE``, both inclusive, as the API and the page take them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import time as clock

from django.utils import timezone

from wallets.errors import InvalidPeriod, InvalidStatementFormat

# The longest period one statement covers: a year, leap day included.
MAX_DAYS = 366
# No entry is older than the service; a floor also keeps datetime arithmetic far from year 1.
EARLIEST = date(2000, 1, 1)
FORMATS = ("csv", "pdf")
DATE_PATTERN = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
_DATE = re.compile(DATE_PATTERN)


@dataclass(frozen=True)
class Period:
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first instant of the period (midnight of ``first`` in TIME_ZONE)."""
        return timezone.make_aware(datetime.combine(self.first, clock.min))

    @property
    def end(self) -> datetime:
        """The first instant after the period: from the calendar, not start + n * 24 h (DST days differ)."""
        return timezone.make_aware(datetime.combine(self.last + timedelta(days=1), clock.min))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def day_parse(raw: str | None, *, field: str) -> date:
    if raw is None or raw == "":
        raise InvalidPeriod(f"Enter the {field} date as YYYY-MM-DD.", field=field)
    if not _DATE.fullmatch(raw):
        raise InvalidPeriod(f"The {field} date must be YYYY-MM-DD.", field=field)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidPeriod(f"The {field} date is not a day of the calendar.", field=field) from None


def period_parse(*, first: str | None, last: str | None, today: date | None = None) -> Period:
    """``from`` and ``to`` as typed (YYYY-MM-DD), checked: a real day each, in order, at most ``MAX_DAYS``
    days, from ``EARLIEST`` and not after today (a statement of days still to come would be rewritten by
    them). Raises ``InvalidPeriod`` naming the field at fault."""
    first_day = day_parse(first, field="from")
    last_day = day_parse(last, field="to")
    today = today or timezone.localdate()
    if first_day < EARLIEST:
        raise InvalidPeriod(f"Statements start on {EARLIEST.isoformat()} at the earliest.", field="from")
    if last_day < first_day:
        raise InvalidPeriod("The period ends before it starts.", field="to")
    if last_day > today:
        raise InvalidPeriod("The period ends after today.", field="to")
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise InvalidPeriod(f"A statement covers at most {MAX_DAYS} days.", field="to")
    return Period(first=first_day, last=last_day)


def format_parse(raw: str | None) -> str:
    """``csv`` (also when absent) or ``pdf``; anything else is refused."""
    if raw is None or raw == "":
        return "csv"
    if raw not in FORMATS:
        raise InvalidStatementFormat()
    return raw
