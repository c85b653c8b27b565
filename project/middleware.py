"""Project middleware."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.template.loader import render_to_string
from django.utils.http import escape_leading_slashes

from wallets.api.errors import error_response
from wallets.database_unavailable import is_connection_lost
from wallets.errors import DatabaseUnavailable

logger = logging.getLogger(__name__)


class HttpResponsePermanentRedirectKeepMethod(HttpResponseRedirect):
    status_code = 308


class CommonMiddleware(DjangoCommonMiddleware):
    """Django's CommonMiddleware, with one change to APPEND_SLASH.

    A POST to a page path missing its trailing slash (``/transfer``) gets a 308,
    which keeps the method and the body, instead of Django's answer: a
    RuntimeError (a 500) in DEBUG, or in production a 301 that browsers follow
    as a GET, silently dropping the form. GET and HEAD keep Django's 301.
    """

    def get_full_path_with_slash(self, request: HttpRequest) -> str:
        # Django's, without the DEBUG-only RuntimeError: process_response below
        # answers unsafe methods with a 308, so the body is never lost.
        return escape_leading_slashes(request.get_full_path(force_append_slash=True))

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if (
            response.status_code == 404
            and request.method not in ("GET", "HEAD")
            and self.should_redirect_with_slash(request)
        ):
            response = HttpResponsePermanentRedirectKeepMethod(self.get_full_path_with_slash(request))
        return super().process_response(request, response)


class DatabaseUnavailableMiddleware:
    """A view whose database connection died answers 503, never a 500 (``wallets.database_unavailable``).

    The money forms and the API's views answer it themselves (a form error, 503
    ``database_unavailable``); this covers every other view: the JSON envelope
    under /api/, elsewhere a page of its own that needs no database (no user,
    no session, no base template), since the database is what is missing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        if not is_connection_lost(exception):
            return None
        return database_unavailable_response(request, exception)


def database_unavailable_response(request: HttpRequest, exception: BaseException) -> HttpResponse:
    """The 503 for a request whose database connection died: the JSON envelope under /api/, else a
    page that needs no database. Also ``handler500``'s answer when the loss surfaced outside a view
    (a middleware's query after the view, project/errors.py)."""
    logger.warning("database connection lost on %s: %r", request.path, exception)
    headers = {"Retry-After": "1"}
    if request.path.startswith("/api/"):
        error = DatabaseUnavailable()
        return error_response(error.http_status, error.code, error.message, headers=headers)
    page = render_to_string("database_unavailable.html", {"message": DATABASE_UNAVAILABLE_PAGE})
    return HttpResponse(page, status=503, headers=headers)


DATABASE_UNAVAILABLE_PAGE = (
    "We lost the connection to our database, so this page could not be shown and we cannot tell whether "
    "what you just sent went through. Please try again in a moment: a money form sent again is not done twice."
)
