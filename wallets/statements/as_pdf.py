"""A statement as PDF, drawn with reportlab's canvas: account, period, the entries, totals, closing balance, seal.

Every page ends with "Page i of N". N is known before the first page is drawn:
every entry takes one line (a long note or name is cut to its column with
"..."), so the layout depends on the number of entries alone. The layout runs
twice: once with nothing to draw, over ``entry_count``, to count the pages;
then for real, over ``statement.lines()``.

Memory: entries stream from the ledger one at a time and are drawn at once;
no list of them is built. What reportlab keeps is the document itself: each
finished page's content stream, compressed, until ``save()`` writes the file
(a temporary file on disk, which the response then streams). A year of a busy
user costs its compressed PDF in memory, about 100 bytes per entry, and no
Python object per entry.

The font is Bitstream Vera, shipped inside reportlab (so it is there wherever
reportlab installs), embedded as a subset with its Unicode map, so a PDF reader
(and ``pypdf`` in the tests) reads the text back. Characters Vera lacks (most
scripts beyond Latin) show as empty boxes; the CSV keeps them exactly.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import IO

import reportlab
from django.conf import settings
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas

from ledger.money import money_format
from wallets.statements.builder import Statement, StatementLine

FONT, BOLD = "PaylaneVera", "PaylaneVeraBold"
_FONTS = Path(reportlab.__file__).parent / "fonts"
if FONT not in pdfmetrics.getRegisteredFontNames():
    pdfmetrics.registerFont(TTFont(FONT, str(_FONTS / "Vera.ttf")))
    pdfmetrics.registerFont(TTFont(BOLD, str(_FONTS / "VeraBd.ttf")))

PAGE_WIDTH, PAGE_HEIGHT = landscape(A4)
MARGIN = 36.0
SIZE = 8.0
ROW = 12.0
LINE = 14.0
# Page 1: title and six lines of account and period; later pages: a one-line running head.
FIRST_HEAD = 22.0 + 6 * LINE + 8.0
OTHER_HEAD = LINE + 4.0
TABLE_HEAD = ROW + 4.0
FOOT = 24.0
# After the entries: the totals row, then closing balance and seal (two lines).
END_BLOCK = ROW + 3 * LINE + 8.0
BOTTOM = MARGIN + FOOT

# (title, x, width, right-aligned)
COLUMNS: list[tuple[str, float, float, bool]] = [
    ("Id", 36.0, 48.0, False),
    ("Time", 86.0, 76.0, False),
    ("Type", 164.0, 50.0, False),
    ("Counterparty", 216.0, 108.0, False),
    ("Note", 326.0, 246.0, False),
    ("In", 576.0, 70.0, True),
    ("Out", 656.0, 70.0, True),
    ("Balance", 736.0, 70.0, True),
]


def _fit(text: str, width: float, font: str = FONT) -> str:
    """``text`` cut to ``width`` points, ending in "..." when cut."""
    if pdfmetrics.stringWidth(text, font, SIZE) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "...", font, SIZE) > width:
        text = text[:-1]
    return text + "..."


def _figure(amount: Decimal | None) -> str:
    return "" if amount is None else f"{amount:,.2f}"


def _cells(line: StatementLine) -> list[str]:
    return [
        str(line.id),
        line.created_at.strftime("%Y-%m-%d %H:%M"),
        line.type_label,
        line.counterparty or "-",
        line.note,
        _figure(line.amount_in),
        _figure(line.amount_out),
        _figure(line.balance_after),
    ]


class _Pages:
    """The layout; draws on ``canvas`` when it has one, else only counts pages."""

    def __init__(self, statement: Statement, canvas: Canvas | None, total: int) -> None:
        self.statement, self.canvas, self.total = statement, canvas, total
        self.page = 0
        self.y = 0.0

    def _text(
        self, x: float, y: float, text: str, *, font: str = FONT, size: float = SIZE, align: str = "left"
    ) -> None:
        if self.canvas is None:
            return
        self.canvas.setFont(font, size)
        draw = {
            "left": self.canvas.drawString,
            "right": self.canvas.drawRightString,
            "centre": self.canvas.drawCentredString,
        }[align]
        draw(x, y, text)

    def _row(self, cells: list[str], *, font: str = FONT) -> None:
        for text, (_title, x, width, right) in zip(cells, COLUMNS, strict=True):
            fitted = _fit(text, width, font)
            self._text(x + width if right else x, self.y, fitted, font=font, align="right" if right else "left")

    def start(self) -> None:
        self.page += 1
        s = self.statement
        top = PAGE_HEIGHT - MARGIN
        if self.page == 1:
            self._text(MARGIN, top - 14, "Paylane statement", font=BOLD, size=14)
            head = [
                f"Account: {s.account_name} (username {s.username})",
                f"Mobile: {s.masked_mobile or '-'}",
                f"Period: {s.period.first.isoformat()} to {s.period.last.isoformat()} "
                f"(times in {settings.TIME_ZONE}; amounts in {s.currency})",
                f"Opening balance: {money_format(s.opening_balance, s.currency)}",
                f"Entries: {s.entry_count}",
                f"Generated at: {s.generated_at.isoformat(timespec='seconds')}",
            ]
            for i, text in enumerate(head):
                self._text(MARGIN, top - 22 - (i + 1) * LINE, text)
            self.y = top - FIRST_HEAD
        else:
            period = f"{s.period.first.isoformat()} to {s.period.last.isoformat()}"
            self._text(MARGIN, top - LINE + 4, f"Paylane statement: {s.account_name} ({s.username}), {period}")
            self.y = top - OTHER_HEAD
        self.y -= ROW
        self._row([title for title, *_ in COLUMNS], font=BOLD)
        if self.canvas is not None:
            self.canvas.line(MARGIN, self.y - 3, PAGE_WIDTH - MARGIN, self.y - 3)
        self.y -= TABLE_HEAD - ROW

    def finish(self) -> None:
        self._text(PAGE_WIDTH / 2, MARGIN, f"Page {self.page} of {self.total}", align="centre")
        if self.canvas is not None:
            self.canvas.showPage()

    def need(self, height: float) -> None:
        if self.y - height < BOTTOM:
            self.finish()
            self.start()

    def entries(self, lines: Iterable[StatementLine | None]) -> None:
        for line in lines:
            self.need(ROW)
            self.y -= ROW
            if line is not None and self.canvas is not None:
                self._row(_cells(line))

    def end(self) -> None:
        s = self.statement
        self.need(END_BLOCK)
        self.y -= ROW + 4
        if self.canvas is not None:
            self.canvas.line(MARGIN, self.y + ROW - 2, PAGE_WIDTH - MARGIN, self.y + ROW - 2)
        totals = ["", "", "", "", "Totals", _figure(s.total_in), _figure(s.total_out), _figure(s.closing_balance)]
        self._row(totals, font=BOLD)
        self.y -= LINE
        self._text(MARGIN, self.y, f"Closing balance: {money_format(s.closing_balance, s.currency)}", font=BOLD)
        seal, _, digest = s.seal_text.partition(", SHA-256 ")
        self.y -= LINE
        self._text(MARGIN, self.y, f"Seal: {seal}")
        self.y -= LINE
        if digest:
            self._text(MARGIN, self.y, f"Seal hash (SHA-256): {digest}")
        self.finish()


def _run(
    statement: Statement, canvas: Canvas | None, total: int, lines: Callable[[], Iterable[StatementLine | None]]
) -> int:
    pages = _Pages(statement, canvas, total)
    pages.start()
    pages.entries(lines())
    pages.end()
    return pages.page


def page_count(statement: Statement) -> int:
    """How many pages the statement takes: the layout run over its entry count, drawing nothing."""
    return _run(statement, None, 0, lambda: (None for _ in range(statement.entry_count)))


def statement_pdf_write(statement: Statement, out: IO[bytes]) -> int:
    """Draw the statement into ``out``; returns the number of pages."""
    total = page_count(statement)
    canvas = Canvas(out, pagesize=(PAGE_WIDTH, PAGE_HEIGHT), pageCompression=1)
    canvas.setTitle(f"Paylane statement {statement.period.first.isoformat()} to {statement.period.last.isoformat()}")
    canvas.setAuthor("Paylane")
    drawn = _run(statement, canvas, total, statement.lines)
    canvas.save()
    return drawn


def statement_pdf_file(statement: Statement) -> IO[bytes]:
    """The PDF in an anonymous temporary file, rewound, for a response to stream."""
    # The response closes it when it has streamed it.
    out = tempfile.TemporaryFile()
    statement_pdf_write(statement, out)
    out.seek(0)
    return out
