"""Rate limits counted in the shared cache: money movements per user, sign-ups per address.

A fixed window per user: ``PAYLANE_TRANSFER_RATE`` ("60/m", "1000/h", "5/s")
calls to the top-up and transfer endpoints, whatever their outcome, so
pay-by-mobile lookups cannot be used to probe which numbers are registered.
The counter lives in the default cache (Redis when ``REDIS_URL`` is set), so
every process counts against the same number; ``cache.add`` then ``cache.incr``
is atomic on Redis and under a lock in LocMem.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def rate_parse(rate: str, *, name: str = "PAYLANE_TRANSFER_RATE") -> tuple[int, int]:
    """``"60/m"`` -> ``(60, 60)``: calls and window length in seconds."""
    try:
        count, period = rate.split("/")
        calls, seconds = int(count), _PERIODS[period.strip().lower()[:1]]
    except (ValueError, KeyError, IndexError):
        raise ImproperlyConfigured(f"{name} must look like 60/m, not {rate!r}") from None
    if calls < 1:
        raise ImproperlyConfigured(f"{name} must allow at least one call")
    return calls, seconds


class _FixedWindowThrottle(BaseThrottle):
    """At most ``calls`` POSTs per ``ident`` and window, counted atomically in the cache."""

    scope = ""
    rate_setting = ""

    def __init__(self) -> None:
        self._wait: float | None = None

    def ident(self, request: Request) -> str | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        who = self.ident(request) if request.method == "POST" else None
        if who is None:
            return True
        calls, seconds = rate_parse(getattr(settings, self.rate_setting), name=self.rate_setting)
        now = time.time()
        window = int(now // seconds)
        key = f"throttle:{self.scope}:{who}:{seconds}:{window}"
        cache.add(key, 0, timeout=seconds + 1)
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr: this call opens a new window
            cache.add(key, 1, timeout=seconds + 1)
            count = 1
        if count <= calls:
            return True
        self._wait = (window + 1) * seconds - now
        return False

    def wait(self) -> float | None:
        return self._wait


class MoneyMovementThrottle(_FixedWindowThrottle):
    """Shared by ``POST /wallet/top-ups/`` and ``POST /transfers/``, per authenticated user."""

    scope = "money"
    rate_setting = "PAYLANE_TRANSFER_RATE"

    def ident(self, request: Request) -> str | None:
        return str(request.user.pk) if request.user.is_authenticated else None


class RegistrationThrottle(_FixedWindowThrottle):
    """``POST /auth/register/`` per client address: sign-up says whether a number is taken,
    so unthrottled it would be a directory of registered numbers."""

    scope = "register"
    rate_setting = "PAYLANE_REGISTER_RATE"

    def ident(self, request: Request) -> str | None:
        return request.META.get("REMOTE_ADDR") or "unknown"
