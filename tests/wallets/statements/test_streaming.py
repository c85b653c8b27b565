"""A statement streams: while it is written, only a chunk of its entries is in memory, never the period."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import date

import pytest

from ledger.models import Transaction
from tests.wallets.api.conftest import Api
from wallets.models import User
from wallets.statements import as_pdf, builder
from wallets.statements.builder import StatementLine
from wallets.statements.period import Period

ENTRIES = 120
CHUNK = 15


def alive(kind: type) -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, kind))


@pytest.fixture
def busy(register: Callable[..., User], top_up: Callable[..., Transaction], monkeypatch: pytest.MonkeyPatch) -> User:
    asha = register("asha")
    for i in range(ENTRIES):
        top_up(asha, "1.00", date(2026, 3, 1 + i % 28), hour=i % 24)
    monkeypatch.setattr(builder, "CHUNK_SIZE", CHUNK)
    monkeypatch.setattr(builder.statement_build, "__kwdefaults__", {"chunk_size": CHUNK})
    return asha


def test_the_csv_download_holds_a_chunk_of_entries_at_a_time(busy: User, api_for: Callable[[User], Api]) -> None:
    # The test's own transaction keeps the entries it made (their pushes wait for a commit that never comes).
    before = alive(Transaction)
    response = api_for(busy).get("/api/v1/statements/", {"from": "2026-03-01", "to": "2026-03-31"})
    assert response.status_code == 200
    lines = iter(response.streaming_content)
    read = [next(lines) for _ in range(17 + ENTRIES // 2)]  # the figures, a blank row, the header, half the entries
    assert read[-1].decode().endswith(f",{ENTRIES // 2}.00\r\n")  # the balance after the middle entry
    assert alive(Transaction) - before <= CHUNK
    rest = list(lines)
    assert len(read) + len(rest) == 17 + ENTRIES + 1


def test_the_pdf_holds_a_chunk_of_entries_at_a_time(busy: User, monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[int] = []
    seen: dict[str, int] = {}
    cells = as_pdf._cells

    def counting(line: StatementLine) -> list[str]:
        drawn.append(line.id)
        if len(drawn) == ENTRIES // 2:
            seen["entries"], seen["lines"] = alive(Transaction) - before, alive(StatementLine)
        return cells(line)

    monkeypatch.setattr(as_pdf, "_cells", counting)
    before = alive(Transaction)
    statement = builder.statement_build(user=busy, period=Period(first=date(2026, 3, 1), last=date(2026, 3, 31)))
    as_pdf.statement_pdf_file(statement).close()
    assert len(drawn) == ENTRIES
    assert seen["entries"] <= CHUNK and seen["lines"] <= 2
