"""Project middleware."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.middleware.common import CommonMiddleware as DjangoCommonMiddleware
from django.utils.http import escape_leading_slashes


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
