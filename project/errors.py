"""The 500 handler (``handler500``): the API's JSON envelope under /api/, Django's page elsewhere.

DRF views answer their own unexpected errors (``wallets.api.errors.exception_handler``);
this covers what fails outside them under /api/: a middleware, a plain Django view.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from wallets.api.errors import server_error_response


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return server_error_response()
    return defaults.server_error(request)
