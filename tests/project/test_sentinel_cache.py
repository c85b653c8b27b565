"""With REDIS_SENTINELS, every cache object of a process shares one Sentinel and one master pool.

Under ASGI each request gets its own cache object; django-redis's own Sentinel
factory built a new ``redis.sentinel.Sentinel`` for each. Nothing here needs a
running Sentinel: building the client connects to nothing. That the shared one
still follows a failover is tests/reliability/test_redis_sentinel_failover.py.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from django.core.cache import BaseCache, caches
from django.test import override_settings
from django_redis.pool import ConnectionFactory
from redis.sentinel import Sentinel

from project import sentinel_cache
from project.sentinel_cache import SharedSentinelConnectionFactory

SENTINELS = [("127.0.0.1", 26379), ("127.0.0.1", 26380), ("127.0.0.1", 26381)]


def _caches(factory: str) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": "redis://paylane/0",
            "OPTIONS": {
                "CONNECTION_FACTORY": factory,
                "SENTINELS": SENTINELS,
                "SENTINEL_KWARGS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 0.5,
            },
        }
    }


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> list[Sentinel]:
    """Every Sentinel made from now on, from a clean process state (no pool, no Sentinel kept)."""
    made: list[Sentinel] = []

    class Counted(Sentinel):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(sentinel_cache, "Sentinel", Counted)
    monkeypatch.setattr("django_redis.pool.Sentinel", Counted)
    monkeypatch.setattr(ConnectionFactory, "_pools", {})
    monkeypatch.setattr(SharedSentinelConnectionFactory, "_sentinels", {})
    return made


def _two_requests_cache_objects() -> tuple[BaseCache, BaseCache]:
    """``caches["default"]`` as two ASGI requests get it: one per async context."""

    async def request() -> BaseCache:
        return caches["default"]

    return asyncio.run(request()), asyncio.run(request())


def _master_pool(cache: BaseCache) -> Any:
    return cache.client.get_client(write=True).connection_pool  # type: ignore[attr-defined]


def test_two_requests_cache_objects_share_one_sentinel_and_one_master_pool(built: list[Sentinel]) -> None:
    with override_settings(CACHES=_caches("project.sentinel_cache.SharedSentinelConnectionFactory")):
        one, two = _two_requests_cache_objects()
        assert one is not two  # two requests, two cache objects, as under ASGI
        pools = _master_pool(one), _master_pool(two)

    assert pools[0] is pools[1]
    assert len(built) == 1
    assert pools[0].connection_kwargs.get("socket_timeout") == 0.5
    assert one.client.connection_factory._sentinel is built[0]  # type: ignore[attr-defined]
    assert two.client.connection_factory._sentinel is built[0]  # type: ignore[attr-defined]


def test_django_redis_own_factory_builds_one_per_cache_object(built: list[Sentinel]) -> None:
    """What the shared factory replaces: the cost it removes is real."""
    with override_settings(CACHES=_caches("django_redis.pool.SentinelConnectionFactory")):
        one, two = _two_requests_cache_objects()
        _master_pool(one), _master_pool(two)
    assert len(built) == 2


def test_another_configuration_gets_its_own_sentinel(built: list[Sentinel]) -> None:
    other = _caches("project.sentinel_cache.SharedSentinelConnectionFactory")
    other["default"]["OPTIONS"]["SENTINELS"] = SENTINELS[:1]
    with override_settings(CACHES=_caches("project.sentinel_cache.SharedSentinelConnectionFactory")):
        _master_pool(_two_requests_cache_objects()[0])
    with override_settings(CACHES=other):
        _master_pool(_two_requests_cache_objects()[0])
    assert len(built) == 2
