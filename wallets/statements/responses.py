"""A statement as an HTTP answer: a download, streamed. The API and the page both answer with these.

Under ASGI (daphne, as deployed), Django reads a *synchronous* iterator to its end
into memory before it sends a byte, and warns. So both files are handed to it as
asynchronous iterators there: the CSV by ``ledger.export.csv_streaming_content``
(lines built in the sync thread that holds the database cursor), the PDF by
reading its temporary file a block at a time. Under WSGI and the test client,
plain iterators stream as they are.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import IO

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse

from ledger.export import csv_streaming_content
from wallets.statements.as_csv import statement_csv_lines
from wallets.statements.builder import Statement

CSV_TYPE = "text/csv; charset=utf-8"
PDF_TYPE = "application/pdf"
BLOCK = 64 * 1024


def statement_filename(statement: Statement, fmt: str) -> str:
    """``paylane-statement-2026-01-01-to-2026-12-31.csv``: ASCII only, nothing to quote or escape."""
    return f"paylane-statement-{statement.period.first.isoformat()}-to-{statement.period.last.isoformat()}.{fmt}"


def _blocks(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        while block := file.read(BLOCK):
            yield block


async def _blocks_async(file: IO[bytes]) -> AsyncIterator[bytes]:
    read = sync_to_async(file.read, thread_sensitive=False)
    try:
        while block := await read(BLOCK):
            yield block
    finally:
        file.close()


def statement_response(request: HttpRequest, statement: Statement, fmt: str) -> StreamingHttpResponse:
    """The statement as an attachment: CSV a line at a time, PDF from its temporary file a block at a time."""
    asgi = isinstance(request, ASGIRequest)
    if fmt == "pdf":
        from wallets.statements.as_pdf import statement_pdf_file  # reportlab loads on the first PDF only

        file = statement_pdf_file(statement)
        size = os.fstat(file.fileno()).st_size
        response = StreamingHttpResponse(_blocks_async(file) if asgi else _blocks(file), content_type=PDF_TYPE)
        response["Content-Length"] = str(size)
    else:
        lines = statement_csv_lines(statement)
        response = StreamingHttpResponse(csv_streaming_content(request, lines), content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{statement_filename(statement, fmt)}"'
    # A statement is private: no shared cache keeps it.
    response["Cache-Control"] = "private, no-store"
    return response
