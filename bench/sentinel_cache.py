"""What a request's cache object costs with REDIS_SENTINELS: django-redis's factory against the shared one.

``python -m bench sentinel_cache [--requests N]``. Under ASGI each request gets a cache
object of its own (one per async context); each builds its connection factory and client.
This times that, per request, in one process and one run, for django-redis's
``SentinelConnectionFactory`` (a new redis-py ``Sentinel`` each time), for
``project.sentinel_cache.SharedSentinelConnectionFactory`` (one per process) and for a plain
``REDIS_URL``, and prints the ratios. Nothing is sent to Redis or to a sentinel (building a
client connects to nothing), so no server is needed; ``asyncio.run`` per request is in every
figure alike.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

SENTINELS = [("127.0.0.1", 26379), ("127.0.0.1", 26380), ("127.0.0.1", 26381)]
TIMEOUTS = {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5}


def _sentinel_caches(factory: str) -> dict[str, Any]:
    options = {"CONNECTION_FACTORY": factory, "SENTINELS": SENTINELS, "SENTINEL_KWARGS": {"socket_timeout": 0.5}}
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://paylane/0",
            "OPTIONS": {**options, **TIMEOUTS},
        }
    }


def _per_request(caches_setting: dict[str, Any], requests: int) -> float:
    """Seconds per request's cache object and client."""
    from django.core.cache import caches
    from django.test.utils import override_settings

    async def request() -> None:
        caches["default"].client.get_client(write=True)  # type: ignore[attr-defined]

    with override_settings(CACHES=caches_setting):
        asyncio.run(request())  # the process's pool (and shared Sentinel) made before timing
        start = time.perf_counter()
        for _ in range(requests):
            asyncio.run(request())
        return (time.perf_counter() - start) / requests


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench sentinel_cache", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args(argv)

    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    location = "redis://127.0.0.1:6379/0"
    url = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": location, "OPTIONS": TIMEOUTS}}
    figures = {
        "django-redis SentinelConnectionFactory": _per_request(
            _sentinel_caches("django_redis.pool.SentinelConnectionFactory"), args.requests
        ),
        "SharedSentinelConnectionFactory": _per_request(
            _sentinel_caches("project.sentinel_cache.SharedSentinelConnectionFactory"), args.requests
        ),
        "REDIS_URL": _per_request(url, args.requests),
    }
    shared = figures["SharedSentinelConnectionFactory"]
    for name, seconds in figures.items():
        print(f"{name:40} {seconds * 1e6:8.0f} us per request   {seconds / shared:5.2f}x the shared factory")
