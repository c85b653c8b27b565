"""The 500 handler (``handler500``): the API's JSON envelope under /api/, Django's page elsewhere.

DRF views answer their own unexpected errors (``wallets.api.errors.exception_handler``);
this covers what fails outside them under /api/: a middleware, a plain Django view. A
database connection lost outside a view (a middleware's query after the view) is not a
server error but the database away: 503, as ``DatabaseUnavailableMiddleware`` answers it
inside views. (A session whose save after the view loses the connection is Django's own
``SessionInterrupted``, a 400, before it gets here.)
"""

from __future__ import annotations

import sys

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from project.middleware import database_unavailable_response
from wallets.api.errors import server_error_response
from wallets.database_unavailable import is_connection_lost


def server_error(request: HttpRequest) -> HttpResponse:
    exception = sys.exc_info()[1]  # Django calls the handler while it handles the exception
    if exception is not None and is_connection_lost(exception):
        return database_unavailable_response(request, exception)
    if request.path.startswith("/api/"):
        return server_error_response()
    return defaults.server_error(request)
