"""A statement as an HTTP answer: a download, streamed. The API and the page both answer with these."""

from __future__ import annotations

from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase

from ledger.export import csv_streaming_content
from wallets.statements.as_csv import statement_csv_lines
from wallets.statements.builder import Statement

CSV_TYPE = "text/csv; charset=utf-8"
PDF_TYPE = "application/pdf"


def statement_filename(statement: Statement, fmt: str) -> str:
    """``paylane-statement-2026-01-01-to-2026-12-31.csv``: ASCII only, nothing to quote or escape."""
    return f"paylane-statement-{statement.period.first.isoformat()}-to-{statement.period.last.isoformat()}.{fmt}"


def statement_response(request: HttpRequest, statement: Statement, fmt: str) -> HttpResponseBase:
    """The statement as an attachment: CSV streamed a line at a time, PDF from a spooled file."""
    filename = statement_filename(statement, fmt)
    if fmt == "pdf":
        from wallets.statements.as_pdf import statement_pdf_file  # reportlab loads on the first PDF only

        response: HttpResponseBase = FileResponse(
            statement_pdf_file(statement), as_attachment=True, filename=filename, content_type=PDF_TYPE
        )
    else:
        response = StreamingHttpResponse(
            csv_streaming_content(request, statement_csv_lines(statement)), content_type=CSV_TYPE
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    # A statement is private: no shared cache keeps it.
    response["Cache-Control"] = "private, no-store"
    return response
