"""The rate limits' shared counters on a real (private) redis-server: one round trip per hit, the
window's expiry set by the hit that opens it, and values django-redis reads and increments as its own."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django_redis.cache import RedisCache

from tests.support.live import RedisServer
from wallets import ratelimit


@pytest.fixture
def redis_cache(private_redis: RedisServer) -> RedisCache:
    return RedisCache(private_redis.url, {"KEY_PREFIX": "paylane"})


def commands(cache: RedisCache) -> dict[str, int]:
    stats = cache.client.get_client(write=True).info("commandstats")
    return {name.removeprefix("cmdstat_"): int(value["calls"]) for name, value in stats.items()}


def test_hits_count_up_and_the_window_ends_when_its_first_hit_said(redis_cache: RedisCache) -> None:
    key = "throttle:money:7:60:123"
    assert [ratelimit._incr(redis_cache, key, timeout=61, delta=1) for _ in range(3)] == [1, 2, 3]
    assert redis_cache.get(key) == 3  # django-redis reads what the hits wrote
    assert 0 < redis_cache.ttl(key) <= 61
    # A refund (recipient lookups) goes through django-redis's own incr, on the same value.
    assert ratelimit._incr(redis_cache, key, timeout=1, delta=-1) == 2
    assert 0 < redis_cache.ttl(key) <= 61  # and does not move the window's end
    redis_cache.delete(key)
    assert ratelimit._incr(redis_cache, key, timeout=61, delta=1) == 1  # a new window starts at one


def test_a_hit_is_one_round_trip_to_redis(redis_cache: RedisCache) -> None:
    ratelimit._incr(redis_cache, "throttle:money:8:60:123", timeout=61, delta=1)
    before = commands(redis_cache)
    ratelimit._incr(redis_cache, "throttle:money:8:60:123", timeout=61, delta=1)
    after = commands(redis_cache)
    ran = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    ran.pop("info", None)  # the previous look at the stats
    # SET NX and INCRBY inside one MULTI/EXEC; no EVAL (django-redis's incr) and no second exchange.
    assert ran == {"multi": 1, "set": 1, "incrby": 1, "exec": 1}


def test_a_hit_through_the_configured_cache_takes_the_one_round_trip(
    private_redis: RedisServer, redis_cache: RedisCache, db: None
) -> None:
    """``hit`` as the API and the pages call it, with CACHES naming the Redis server (production's)."""
    caches = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": private_redis.url}}
    # Restored inside the test, while the server still answers (the suite clears the cache after each test).
    with override_settings(CACHES=caches, PAYLANE_TRANSFER_RATE="2/m"):
        assert ratelimit.hit(ratelimit.MONEY_MOVEMENTS, 42).allowed
        before = commands(redis_cache)
        assert ratelimit.hit(ratelimit.MONEY_MOVEMENTS, 42).allowed
        after = commands(redis_cache)
        assert not ratelimit.hit(ratelimit.MONEY_MOVEMENTS, 42).allowed  # the third of 2/m
    ran = {name: after[name] - before.get(name, 0) for name in after if after[name] != before.get(name, 0)}
    ran.pop("info", None)
    assert ran == {"multi": 1, "set": 1, "incrby": 1, "exec": 1}


def test_clearing_the_counters_forgets_that_the_shared_cache_failed(private_redis: RedisServer) -> None:
    # The test suite clears them around every test; a test after an outage test counted its first
    # hits in this process and the rest in Redis once FALLBACK_SECONDS ended (CI saw a third reset
    # code allowed where the limit was two).
    limit = ratelimit.Limit("money", "PAYLANE_TRANSFER_RATE")
    with override_settings(
        CACHES={"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": private_redis.url}},
        PAYLANE_TRANSFER_RATE="1/h",
    ):
        private_redis.stop()
        assert ratelimit.hit(limit, "fallback-then-clear").allowed  # counted here: Redis is down
        private_redis.start()
        ratelimit.local_counters_clear()
        first, second = ratelimit.hit(limit, "fallback-then-clear"), ratelimit.hit(limit, "fallback-then-clear")
        assert (first.allowed, second.allowed) == (True, False)
        from django.core.cache import cache

        assert cache.get(first.key) == 2  # both hits counted in Redis at once, none in this process
