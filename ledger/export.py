"""CSV export of the ledger: one row function, streamed, safe to open in a spreadsheet.

Used by ``python manage.py export_ledger`` and by the admin's "Export CSV".
Rows are read with ``.iterator()`` and written one line at a time, so a
million rows never sit in memory.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from decimal import Decimal

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.db.models import QuerySet
from django.http import HttpRequest

from ledger.models import ReversalDecision, ReversalProposal, Transaction

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


# ``export_ledger --reversals``: the staff reversal records, proposals and decisions, one line each in
# time order (a proposal's fields on its line; a decision's on its own, naming its proposal).
REVERSAL_CSV_HEADER: list[str] = [
    "record",
    "id",
    "created_at_utc",
    "proposal_id",
    "entry_id",
    "amount",
    "by_user_id",
    "by_username",
    "outcome",
    "reason",
    "reversal_id",
]


def reversal_csv_lines() -> Iterator[str]:
    """The header, then every proposal and every decision (append-only records), oldest first."""
    writer = csv.writer(_Line())
    yield writer.writerow(REVERSAL_CSV_HEADER)
    # (time, proposal before decision, id) -> cells: few records, sorted in memory.
    rows: list[tuple[tuple[datetime, int, int], list[object]]] = []
    for proposal in ReversalProposal.objects.select_related("proposed_by").order_by("id"):
        cells: list[object] = ["proposal", proposal.pk, _utc(proposal.created_at), proposal.pk, proposal.entry_id]
        cells += [proposal.amount, proposal.proposed_by_id, proposal.proposed_by.username, "", proposal.reason, None]
        rows.append(((proposal.created_at, 0, proposal.pk), cells))
    for decision in ReversalDecision.objects.select_related("decided_by", "proposal").order_by("id"):
        cells = ["decision", decision.pk, _utc(decision.created_at), decision.proposal_id, decision.proposal.entry_id]
        cells += [decision.proposal.amount, decision.decided_by_id, decision.decided_by.username]
        cells += [decision.outcome, decision.reason, decision.reversal_id]
        rows.append(((decision.created_at, 1, decision.pk), cells))
    for _, cells in sorted(rows, key=lambda row: row[0]):
        yield writer.writerow([csv_cell(v) for v in cells])


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


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
