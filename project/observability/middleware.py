"""The first middleware: a request id for every request, one access line, the HTTP latency histogram.

* Request id: an incoming ``X-Request-ID`` (a proxy's, a client's) is kept when
  it is 1 to 128 characters of ``A-Z a-z 0-9 - _ . : = + / @``; otherwise a new
  one is made. It is bound to every log line written while the request runs
  (structlog's contextvars) and returned as ``X-Request-ID``.
* One line per request, event ``request``: ``method``, ``path`` (no query
  string), ``route`` (the URL pattern that matched, with a leading slash:
  ``/api/v1/transactions/<int:transaction_id>/``; None when none did),
  ``status``, ``duration`` (seconds, from this middleware in to the response
  out), ``user_id`` (None for anonymous). INFO, or ERROR for a 5xx; the health
  probes ``/healthz`` and ``/readyz`` at DEBUG, so they stay out of the INFO log.
* ``paylane_http_request_duration_seconds{method, route, status}``: the same
  duration. Labels never carry the raw path: a route pattern, ``none`` when no
  route matched (a 404, a static file).

Written here rather than taken from django-structlog: it logs two lines per
request (started, finished), neither with a duration or a route, trusts any
``X-Request-ID`` unchecked, does not return it, and cannot keep the probes out
of the INFO log; bending it to this would take its signals, a filter and a
second middleware, more code than this one. django-prometheus would time each
request again in two more middlewares; the duration is measured here already.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable

import structlog
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.utils.functional import SimpleLazyObject, empty

from telemetry.metrics import HTTP_SECONDS

logger = structlog.get_logger("paylane.request")

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:=+/@-]{1,128}")
# Probes poll every few seconds: their lines go to DEBUG.
QUIET_PATHS = frozenset({"/healthz", "/readyz"})
# A method outside these is counted as "other": label values stay a closed set.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def request_id_of(header: str | None) -> str:
    """The incoming id when it is well formed, else a new one (32 hex digits)."""
    if header is not None and _REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestLogMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        request_id = request_id_of(request.headers.get(REQUEST_ID_HEADER))
        with structlog.contextvars.bound_contextvars(request_id=request_id):
            response = self.get_response(request)
            duration = time.perf_counter() - started
            response[REQUEST_ID_HEADER] = request_id
            match = request.resolver_match
            route = f"/{match.route}" if match is not None else None
            method = request.method if request.method in _METHODS else "other"
            HTTP_SECONDS.labels(method, route or "none", str(response.status_code)).observe(duration)
            if request.path in QUIET_PATHS:
                level = logging.DEBUG
            else:
                level = logging.ERROR if response.status_code >= 500 else logging.INFO
            logger.log(
                level,
                "request",
                method=request.method,
                path=request.path,
                route=route,
                status=response.status_code,
                duration=round(duration, 6),
                user_id=_user_id(request),
            )
        return response


def _user_id(request: HttpRequest) -> int | None:
    """The signed-in user's id, if the request already knows who it is.

    Never resolves the lazy ``request.user`` itself: that reads the session
    from the database, and this runs for every request, the readiness probe
    of a database that is down included.
    """
    user = request.__dict__.get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped  # type: ignore[attr-defined]
        if user is empty:
            return None
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return getattr(user, "pk", None)
