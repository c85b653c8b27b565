"""CSV export of the ledger: one row function, streamed, safe to open in a spreadsheet.

Used by ``python manage.py export_ledger`` and by the admin's "Export CSV".
Rows are read with ``.iterator()`` and written one line at a time, so a
million rows never sit in memory.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest

from ledger.models import Transaction

CSV_HEADER: list[str] = [
    "id",
    "created_at_utc",
    "transaction_type",
    "status",
    "amount",
    "currency",
    "sender_id",
    "sender_username",
    "receiver_id",
    "receiver_username",
    "sender_balance_after",
    "sender_version_after",
    "receiver_balance_after",
    "receiver_version_after",
    "failure_reason",
    "row_hash",
    # Added later, at the end so that readers of the first columns keep working.
    "note",
    "corrects_id",
]

# Lines per chunk when streaming to an ASGI server.
ASYNC_BATCH_LINES = 500

# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: object) -> str:
    """The text of one cell; text a spreadsheet would run as a formula gets a leading ``'``."""
    if value is None:
        return ""
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return "'" + text if text.startswith(_FORMULA_PREFIXES) else text


def csv_row(entry: Transaction) -> list[str]:
    """One ledger row as CSV cells, in ``CSV_HEADER`` order (sender and receiver pre-selected)."""
    values: list[object] = [
        entry.pk,
        entry.created_at.astimezone(UTC).isoformat(timespec="microseconds"),
        entry.transaction_type,
        entry.status,
        entry.amount,
        entry.currency,
        entry.sender_id,
        entry.sender.username if entry.sender else None,
        entry.receiver_id,
        entry.receiver.username,
        entry.sender_balance_after,
        entry.sender_version_after,
        entry.receiver_balance_after,
        entry.receiver_version_after,
        entry.failure_reason,
        entry.row_hash,
        entry.note,
        entry.corrects_id,
    ]
    return [csv_cell(v) for v in values]


class _Line:
    """A write-only file for ``csv.writer`` that hands back what it was given."""

    def write(self, value: str) -> str:
        return value


def csv_lines(entries: QuerySet[Transaction] | Iterable[Transaction], *, chunk_size: int = 2000) -> Iterator[str]:
    """The header line, then one line per entry, read in chunks with ``.iterator()``."""
    writer = csv.writer(_Line())
    yield writer.writerow(CSV_HEADER)
    rows = entries.iterator(chunk_size=chunk_size) if isinstance(entries, QuerySet) else entries
    for entry in rows:
        yield writer.writerow(csv_row(entry))


async def _in_batches(lines: Iterator[str], size: int) -> AsyncIterator[str]:
    take = sync_to_async(lambda: "".join(itertools.islice(lines, size)))
    while chunk := await take():
        yield chunk


def csv_streaming_content(request: HttpRequest, lines: Iterator[str]) -> Iterator[str] | AsyncIterator[str]:
    """What ``StreamingHttpResponse`` should stream for this request.

    Under ASGI (daphne), Django would read a *synchronous* iterator to the end
    into memory before sending a byte; hand it an asynchronous one that pulls
    ``ASYNC_BATCH_LINES`` lines at a time (database work stays in the sync thread).
    Under WSGI and the test client, the plain iterator streams as it is.
    """
    return _in_batches(lines, ASYNC_BATCH_LINES) if isinstance(request, ASGIRequest) else lines
