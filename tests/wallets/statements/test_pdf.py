"""The statement as PDF, read back with pypdf: account, period, every entry, totals, closing, seal, page numbers."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from pypdf import PdfReader

from ledger.models import Transaction
from ledger.services import ledger_seal
from wallets.models import User
from wallets.statements.as_pdf import page_count, statement_pdf_write
from wallets.statements.builder import Statement, statement_build
from wallets.statements.period import Period

URL = "/api/v1/statements/"
MARCH = Period(first=date(2026, 3, 1), last=date(2026, 3, 31))


@pytest.fixture
def busy_march(asha: User, ravi: User, top_up: Callable[..., Transaction], pay: Callable[..., Transaction]) -> None:
    """Before March: 1000.00. In March: 60 top-ups of 1.00 to 60.00 and 40 payments of 2.50 to ravi."""
    top_up(asha, "1000.00", date(2026, 2, 1))
    for i in range(100):
        day = date(2026, 3, 1 + i % 31)
        if i % 5 in (1, 3):
            pay(asha, ravi, "2.50", day, hour=i % 24, note=(f"payment number {i} " + "x" * 80)[:80])
        else:
            top_up(asha, f"{1 + i % 60}.00", day, hour=i % 24)


def read_back(pdf: bytes) -> list[str]:
    """Each page's text as laid out, a row per line, runs of spaces as one."""
    pages = [page.extract_text(extraction_mode="layout") for page in PdfReader(io.BytesIO(pdf)).pages]
    return ["\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip()) for text in pages]


def pages_of(statement: Statement) -> list[str]:
    out = io.BytesIO()
    statement_pdf_write(statement, out)
    return read_back(out.getvalue())


@pytest.mark.usefixtures("busy_march")
def test_a_long_statement_reads_back_with_its_figures_every_entry_and_page_numbers(asha: User) -> None:
    statement = statement_build(user=asha, period=MARCH)
    assert statement.entry_count == 100
    pages = pages_of(statement)

    assert len(pages) == page_count(statement) >= 3
    for number, text in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in text
    first, last = pages[0], pages[-1]
    assert "Paylane statement" in first
    assert "Account: Asha Rao (username asha)" in first
    assert "Mobile: +91******3210" in first
    assert "Period: 2026-03-01 to 2026-03-31" in first
    assert "Opening balance: INR 1,000.00" in first
    expected_in = sum((Decimal(f"{1 + i % 60}.00") for i in range(100) if i % 5 not in (1, 3)), Decimal(0))
    assert statement.total_in == expected_in and statement.total_out == Decimal("100.00")
    closing = Decimal("1000.00") + expected_in - Decimal("100.00")
    assert statement.closing_balance == closing
    assert f"Closing balance: INR {closing:,.2f}" in last
    assert f"Totals {expected_in:,.2f} 100.00 {closing:,.2f}" in last
    assert "Seal: not sealed yet" in last

    text_lines = [line for text in pages for line in text.splitlines()]
    for line in statement.lines():
        row = f"{line.id} {line.created_at:%Y-%m-%d %H:%M} {line.type_label}"
        matches = [text for text in text_lines if text.startswith(row + " ")]
        assert len(matches) == 1, row
        assert matches[0].endswith(f"{line.balance_after:,.2f}")
    # A note too long for its column is cut, not wrapped onto a line of its own.
    assert any("payment number 1 xxx" in text and "..." in text for text in text_lines)


@pytest.mark.usefixtures("busy_march")
def test_the_pdf_names_the_seal_over_its_last_entry(asha: User) -> None:
    ledger_seal()
    statement = statement_build(user=asha, period=MARCH)
    assert statement.seal is not None
    last = pages_of(statement)[-1]
    assert f"Seal: seal {statement.seal.pk} of ledger ids 1-{statement.seal.last_id}" in last
    assert f"Seal hash (SHA-256): {statement.seal.seal_hash}" in last


def test_an_empty_statement_is_one_page(asha: User) -> None:
    statement = statement_build(user=asha, period=MARCH)
    pages = pages_of(statement)
    assert len(pages) == 1
    assert "Page 1 of 1" in pages[0] and "Closing balance: INR 0.00" in pages[0]


@pytest.mark.usefixtures("busy_march")
def test_the_api_serves_the_pdf_as_an_attachment(api_for: Callable[[User], object], asha: User) -> None:
    response = api_for(asha).get(URL, {"from": "2026-03-01", "to": "2026-03-31", "format": "pdf"})  # type: ignore[attr-defined]
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == 'attachment; filename="paylane-statement-2026-03-01-to-2026-03-31.pdf"'
    body = b"".join(response.streaming_content)
    assert body.startswith(b"%PDF-")
    pages = read_back(body)
    assert f"Page 1 of {len(pages)}" in pages[0]


def test_text_beyond_the_font_does_not_break_the_pdf(
    asha: User, ravi: User, top_up: Callable[..., Transaction], pay: Callable[..., Transaction]
) -> None:
    top_up(asha, "10.00", date(2026, 3, 1))
    pay(asha, ravi, "1.00", date(2026, 3, 2), note="chai ☕ नमस्ते 你好")
    pages = pages_of(statement_build(user=asha, period=MARCH))
    assert "Page 1 of 1" in pages[0]
    assert "chai" in pages[0]
