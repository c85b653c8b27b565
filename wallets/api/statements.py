"""``GET /api/v1/statements/``: the caller's statement for a period, as a CSV or PDF download (docs/api.md)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from wallets.api import openapi
from wallets.api import responses as r
from wallets.statements.builder import statement_build
from wallets.statements.limit import statement_rate_hit
from wallets.statements.period import MAX_DAYS, format_parse, period_parse
from wallets.statements.responses import statement_response


class _FormatIsTheFile(DefaultContentNegotiation):
    """``?format=`` names the statement's file here, not one of DRF's renderers (its URL_FORMAT_OVERRIDE).

    Errors are JSON whatever the Accept header says: a client that asks for text/csv
    or application/pdf still gets a readable refusal, never 406.
    """

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


PERIOD_400 = (
    "invalid_period: from or to missing, not YYYY-MM-DD or not a day of the calendar, to before from, "
    f"to after today, from before 2000-01-01, or more than {MAX_DAYS} days (error.fields names the parameter); "
    "validation_error: format is not csv or pdf"
)


class StatementView(APIView):
    content_negotiation_class = _FormatIsTheFile

    @extend_schema(
        operation_id="statements_retrieve",
        parameters=[
            OpenApiParameter(
                "from",
                openapi.STATEMENT_DAY,
                required=True,
                description="The first day of the period (YYYY-MM-DD, a day in the service's TIME_ZONE).",
                examples=[OpenApiExample("January", "2026-01-01")],
            ),
            OpenApiParameter(
                "to",
                openapi.STATEMENT_DAY,
                required=True,
                description=f"The last day of the period, included; not after today, at most {MAX_DAYS} days "
                "after from, counting both.",
                examples=[OpenApiExample("January", "2026-01-31")],
            ),
            OpenApiParameter("format", openapi.STATEMENT_FORMAT, description="csv (the default) or pdf."),
            r.WWW_AUTHENTICATE,
            r.RETRY_AFTER,
        ],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.BINARY, description="The statement as CSV (UTF-8 with a BOM), streamed; an attachment."
            ),
            (200, "application/pdf"): OpenApiResponse(OpenApiTypes.BINARY, description="The statement as PDF."),
            # No 406: errors are JSON whatever Accept says (above).
            **r.errors(400, 401, 403, 429, 503, s400=PERIOD_400),
        },
    )
    def get(self, request: Request) -> Any:
        params = request.query_params
        period = period_parse(first=params.get("from"), last=params.get("to"))
        fmt = format_parse(params.get("format"))
        statement_rate_hit(user_id=request.user.pk)  # type: ignore[arg-type]
        statement = statement_build(user=request.user, period=period)  # type: ignore[arg-type]
        return statement_response(request._request, statement, fmt)
