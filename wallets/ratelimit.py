"""Rate limits: one implementation for the pages, the API and the services.

Each limit is a fixed window per identity (a user id or a client address):
at most ``calls`` hits per ``seconds``, counted in the shared cache (Redis when
``REDIS_URL`` is set), so every process counts against the same number;
``cache.add`` then ``cache.incr`` is atomic on Redis (one MULTI/EXEC, ``_incr_redis``) and
under a lock in LocMem.

Redis down. A limit never becomes "unlimited" and never a 500: when the shared
cache raises, this process counts in a cache of its own (``LocMemCache``) and
keeps refusing over the limit, per process rather than across processes. It
does not ask Redis again for ``FALLBACK_SECONDS``, so an outage costs one
failed round trip per process every few seconds, not one per request; then the
shared counters take over again by themselves. docs/reliability.md says which
guarantee holds during an outage.

Written here rather than taken from django-ratelimit: that library can only
fail open (no limit while Redis is down) or closed (refuse everyone), and has
no way to give a hit back (``refund``), which the recipient-lookup limit needs
to count only the lookups that find nobody.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import BaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.exceptions import ImproperlyConfigured
from django_redis.cache import RedisCache
from redis.exceptions import RedisError

from telemetry.metrics import RATE_LIMITED

logger = logging.getLogger(__name__)

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# After the shared cache fails, count locally for this long before trying it again.
FALLBACK_SECONDS = 2.0


@dataclass(frozen=True)
class Rate:
    calls: int
    seconds: int


def rate_parse(rate: str, *, name: str) -> Rate:
    """``"60/m"`` -> ``Rate(60, 60)``; ``/s``, ``/m``, ``/h``, ``/d`` (only the first letter counts)."""
    try:
        count, period = rate.split("/")
        calls, seconds = int(count), _PERIODS[period.strip().lower()[:1]]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"{name} must look like 60/m, not {rate!r}") from None
    if calls < 1:
        raise ImproperlyConfigured(f"{name} must allow at least one call")
    return Rate(calls, seconds)


@dataclass(frozen=True)
class Limit:
    """A named limit whose rate is the setting ``setting`` (read on each hit, so tests may override it)."""

    scope: str
    setting: str

    def rate(self) -> Rate:
        return rate_parse(getattr(settings, self.setting), name=self.setting)


# Every limit of the service, in one place (docs/api.md lists them with their defaults).
MONEY_MOVEMENTS = Limit("money", "PAYLANE_TRANSFER_RATE")  # per user: top-ups and transfers, pages and API
SIGN_UPS = Limit("register", "PAYLANE_REGISTER_RATE")  # per client address
SIGN_INS = Limit("signin", "PAYLANE_SIGNIN_RATE")  # per client address
RECIPIENT_LOOKUPS = Limit("lookup", "PAYLANE_RECIPIENT_LOOKUP_RATE")  # per user: mobile numbers that match nobody
CODES = Limit("codes", "PAYLANE_CODE_RATE")  # per user: one-time codes asked for by SMS
PASSWORD_RESETS = Limit("reset", "PAYLANE_PASSWORD_RESET_RATE")  # per client address: reset requests and confirms
PASSWORD_RESET_CODES = Limit("reset-code", "PAYLANE_PASSWORD_RESET_NUMBER_RATE")  # per mobile number: reset codes
STATEMENTS = Limit("statements", "PAYLANE_STATEMENT_RATE")  # per user: statements downloaded, pages and API


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Seconds until the window that refused this hit ends (0 when allowed).
    retry_after: float
    key: str

    @property
    def retry_minutes(self) -> int:
        """``retry_after`` as the whole minutes a refusal's message names (at least one)."""
        return max(1, round(self.retry_after / 60))


class _Counters:
    """``incr`` in the shared cache, or in this process's own while the shared one is failing."""

    def __init__(self) -> None:
        self.local = LocMemCache("paylane-ratelimit-fallback", {"OPTIONS": {"MAX_ENTRIES": 100_000}})
        self._retry_shared_at = 0.0
        self._lock = threading.Lock()

    def _store(self) -> BaseCache:
        # The backend itself (this thread's), not the ``cache`` proxy: ``_incr`` looks at its class.
        return caches[DEFAULT_CACHE_ALIAS] if time.monotonic() >= self._retry_shared_at else self.local

    def incr(self, key: str, *, timeout: int, delta: int = 1) -> int:
        store = self._store()
        if store is not self.local:
            try:
                return _incr(store, key, timeout=timeout, delta=delta)
            except (RedisError, OSError) as exc:
                self._shared_failed(exc)
        return _incr(self.local, key, timeout=timeout, delta=delta)

    def _shared_failed(self, exc: Exception) -> None:
        with self._lock:
            first = self._retry_shared_at <= time.monotonic()
            self._retry_shared_at = time.monotonic() + FALLBACK_SECONDS
        if first:
            logger.warning("rate limits: shared cache unavailable, counting per process for now: %r", exc)


def _incr(store: BaseCache, key: str, *, timeout: int, delta: int) -> int:
    if delta > 0 and isinstance(store, RedisCache):
        return _incr_redis(store, key, timeout=timeout, delta=delta)
    if delta > 0:
        store.add(key, 0, timeout=timeout)
    try:
        return int(store.incr(key, delta))
    except ValueError:  # expired (or never added, for a refund) between the two calls
        if delta < 0:
            return 0
        store.add(key, delta, timeout=timeout)
        return delta


def _incr_redis(store: RedisCache, key: str, *, timeout: int, delta: int) -> int:
    """``add`` then ``incr`` as one MULTI/EXEC on Redis: one round trip where django-redis takes two
    (a SET NX, then its ``incr``, a Lua script), the same key and value encoding as its own, and as
    atomic (the window's expiry is set by the SET that creates the key, never by a later one)."""
    name = store.client.make_key(key)
    with store.client.get_client(write=True).pipeline(transaction=True) as pipe:
        pipe.set(name, 0, ex=timeout, nx=True)
        pipe.incrby(name, delta)
        _created, count = pipe.execute()
    return int(count)


_counters = _Counters()


def hit(limit: Limit, ident: object) -> Decision:
    """Count one hit of ``ident`` against ``limit``; ``allowed`` is False once over the rate
    (and ``paylane_rate_limited_total{limit=<scope>}`` counts the refusal)."""
    rate = limit.rate()
    now = time.time()
    window = int(now // rate.seconds)
    key = f"throttle:{limit.scope}:{ident}:{rate.seconds}:{window}"
    count = _counters.incr(key, timeout=rate.seconds + 1)
    if count <= rate.calls:
        return Decision(True, 0.0, key)
    RATE_LIMITED.labels(limit.scope).inc()
    return Decision(False, (window + 1) * rate.seconds - now, key)


def refund(decision: Decision) -> None:
    """Give back an allowed hit that turned out not to count (a lookup that found someone)."""
    if decision.allowed:
        _counters.incr(decision.key, timeout=1, delta=-1)


def local_counters_clear() -> None:
    """Forget the per-process counters, and that the shared cache failed (tests): a test after one
    that stopped Redis would otherwise count in this process until ``FALLBACK_SECONDS`` end, then in
    Redis, and see its hits split between the two."""
    _counters.local.clear()
    with _counters._lock:
        _counters._retry_shared_at = 0.0
