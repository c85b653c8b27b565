"""A statement as PDF (to be written)."""

from __future__ import annotations

from typing import IO

from wallets.statements.builder import Statement


def statement_pdf_file(statement: Statement) -> IO[bytes]:
    raise NotImplementedError
