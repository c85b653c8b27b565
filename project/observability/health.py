"""``GET /healthz`` (the process answers) and ``GET /readyz`` (it can serve): for load balancers and orchestrators.

``/healthz`` touches nothing: 200 ``{"status": "ok"}`` whenever the process
runs its Django app. ``/readyz`` runs its checks at once, each within
``CHECK_TIMEOUT``: the database answers (``SELECT 1`` on a pooled connection),
every migration on disk is recorded as applied (one read of the small
``django_migrations`` table, compared with the migration files read once per
process), and, where ``REDIS_URL`` or ``REDIS_SENTINELS`` is set, Redis (the
master Sentinel names now) answers a PING. 200 when all
pass; otherwise 503 with the failed ones named::

    {"status": "unavailable", "failed": ["database", "migrations"],
     "checks": {"database": "Unavailable: Timed out after 3 seconds", "migrations": "...", "redis": "ok"}}

No table scan, no write, no session, no rate limit; never cached. Both are
outside ``/api/`` (no API error envelope) and ``SECURE_REDIRECT_EXEMPT``
(probes speak plain HTTP to the process). The checks are django-health-check's
(``Database``, ``Redis``: per-check timeouts, concurrent runs, errors turned
into messages without secrets) plus ``Migrations`` below; its view answers
500 in its own format, so the answer is rendered here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
from typing import Any

import redis.asyncio
import redis.asyncio.sentinel
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods
from health_check.base import HealthCheck
from health_check.checks import Database
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from health_check.views import HealthCheckView

# A probe that waits longer than this for one part reports that part as failed.
CHECK_TIMEOUT = datetime.timedelta(seconds=3)
# Redis's own client gives up sooner, so its error (refused, timeout) is the one reported.
REDIS_SOCKET_TIMEOUT = 1.0


@require_http_methods(["GET", "HEAD"])
def healthz(request: HttpRequest) -> HttpResponse:
    response = JsonResponse({"status": "ok"})
    add_never_cache_headers(response)
    return response


@functools.cache
def migrations_on_disk() -> frozenset[tuple[str, str]]:
    """Every migration of the installed apps, as ``(app_label, name)``: read from the files once per process."""
    return frozenset(MigrationLoader(None, ignore_no_migrations=True).graph.nodes)


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration on disk is recorded as applied in the database."""

    alias: str = DEFAULT_DB_ALIAS
    timeout = CHECK_TIMEOUT

    def run(self) -> None:
        connection = connections[self.alias]
        try:
            # Opened for this check and closed after (back to the pool): checks run on executor threads.
            with connection.temporary_connection():
                applied = set(MigrationRecorder(connection).applied_migrations())
        except DatabaseError as exc:  # its first line only: the rest may name hosts and users
            raise ServiceUnavailable(f"not readable: {str(exc).rsplit(':')[0]}") from exc
        missing = sorted(migrations_on_disk() - applied)
        if missing:
            names = ", ".join(f"{app}.{name}" for app, name in missing[:5])
            more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            raise ServiceUnavailable(f"not applied: {names}{more}")


@dataclasses.dataclass
class DatabaseReachable(Database):
    timeout = CHECK_TIMEOUT


@dataclasses.dataclass
class RedisReachable(Redis):
    timeout = CHECK_TIMEOUT


# The names the answer gives each check.
CHECK_NAMES: dict[type[HealthCheck], str] = {
    DatabaseReachable: "database",
    Migrations: "migrations",
    RedisReachable: "redis",
}


def _redis_client() -> redis.asyncio.Redis:
    if settings.REDIS_SENTINELS:
        sentinel = redis.asyncio.sentinel.Sentinel(
            settings.REDIS_SENTINELS,
            sentinel_kwargs=settings.REDIS_SENTINEL_KWARGS,
            socket_connect_timeout=REDIS_SOCKET_TIMEOUT,
            socket_timeout=REDIS_SOCKET_TIMEOUT,
        )
        return sentinel.master_for(settings.REDIS_SENTINEL_MASTER, db=settings.REDIS_SENTINEL_DB)
    return redis.asyncio.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=REDIS_SOCKET_TIMEOUT, socket_timeout=REDIS_SOCKET_TIMEOUT
    )


class ReadyView(HealthCheckView):
    http_method_names = ["get", "head"]

    def get_checks(self) -> Any:
        yield DatabaseReachable()
        yield Migrations()
        if settings.REDIS_URL or settings.REDIS_SENTINELS:
            yield RedisReachable(client_factory=_redis_client)

    async def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.get_executor() as executor:
            results = await asyncio.gather(*(check.get_result(executor) for check in self.get_checks()))
        checks = {CHECK_NAMES[type(r.check)]: "ok" if r.error is None else str(r.error) for r in results}
        failed = [CHECK_NAMES[type(r.check)] for r in results if r.error is not None]
        body: dict[str, Any] = {"status": "unavailable" if failed else "ok", "checks": checks}
        if failed:
            body["failed"] = failed
        return JsonResponse(body, status=503 if failed else 200)


readyz = ReadyView.as_view()
