"""A statement as CSV that opens in a spreadsheet as it is.

* UTF-8 with a byte-order mark: Excel reads a BOM-less file as the machine's
  legacy code page and garbles every name or note outside ASCII; LibreOffice
  and Google Sheets skip the mark. Lines end in CRLF (RFC 4180, ``csv``'s default).
* The figures come first, one labelled row each (account, period, opening balance,
  totals, closing balance, generated-at, seal), then a blank row, then the entries
  under their own header row, then a totals row under the amount columns.
* Amounts are plain numbers with two decimals and no currency or grouping
  ("1234.50"), so a spreadsheet sums them; an amount out is positive in its own
  column. Times are local (``TIME_ZONE``, named in the figures) as
  ``YYYY-MM-DD HH:MM:SS``, which spreadsheets read as a date and time.
* Text a spreadsheet would run as a formula (a note that starts with ``=``)
  gets a leading ``'``, as the ledger export does (``ledger.export.csv_cell``).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal

from django.conf import settings

from ledger.export import csv_cell
from wallets.statements.builder import Statement

BOM = "\ufeff"
ENTRY_HEADER = ["id", "time", "type", "counterparty", "note", "amount_in", "amount_out", "balance_after"]


class _Line:
    """A write-only file for ``csv.writer`` that hands back what it was given."""

    def write(self, value: str) -> str:
        return value


def _amount(value: Decimal | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def statement_csv_lines(statement: Statement) -> Iterator[str]:
    """The file, a line at a time (the first starts with the BOM); entries stream from ``statement.lines()``."""
    writer = csv.writer(_Line())
    figures: list[list[object]] = [
        ["Paylane statement"],
        ["Account", statement.account_name],
        ["Username", statement.username],
        ["Mobile", statement.masked_mobile],
        ["Period from", statement.period.first.isoformat()],
        ["Period to", statement.period.last.isoformat()],
        ["Currency", statement.currency],
        ["Time zone", settings.TIME_ZONE],
        ["Opening balance", _amount(statement.opening_balance)],
        ["Total in", _amount(statement.total_in)],
        ["Total out", _amount(statement.total_out)],
        ["Closing balance", _amount(statement.closing_balance)],
        ["Entries", statement.entry_count],
        ["Generated at", _time(statement.generated_at)],
        ["Seal", statement.seal_text],
    ]
    first = True
    for row in figures:
        line = writer.writerow([csv_cell(value) for value in row])
        yield BOM + line if first else line
        first = False
    yield writer.writerow([])
    yield writer.writerow(ENTRY_HEADER)
    for entry in statement.lines():
        yield writer.writerow(
            [
                str(entry.id),
                _time(entry.created_at),
                entry.type,
                csv_cell(entry.counterparty),
                csv_cell(entry.note),
                _amount(entry.amount_in),
                _amount(entry.amount_out),
                _amount(entry.balance_after),
            ]
        )
    yield writer.writerow(
        [
            "",
            "",
            "",
            "",
            "Totals",
            _amount(statement.total_in),
            _amount(statement.total_out),
            _amount(statement.closing_balance),
        ]
    )
