"""DRF throttles over ``wallets.ratelimit``: the same limits, counters and settings as the pages.

Only POSTs count: money movements per user (``PAYLANE_TRANSFER_RATE``, whatever
their outcome), sign-ups and sign-ins per client address (``PAYLANE_REGISTER_RATE``,
``PAYLANE_SIGNIN_RATE``; sign-up says whether a number is taken, so unthrottled
it would be a directory of registered numbers).
"""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from wallets import ratelimit
from wallets.clientip import client_ip


class _LimitThrottle(BaseThrottle):
    limit: ratelimit.Limit

    def __init__(self) -> None:
        self._wait: float | None = None

    def ident(self, request: Request) -> object | None:
        raise NotImplementedError

    def allow_request(self, request: Request, view: Any) -> bool:
        who = self.ident(request) if request.method == "POST" else None
        if who is None:
            return True
        decision = ratelimit.hit(self.limit, who)
        self._wait = decision.retry_after
        return decision.allowed

    def wait(self) -> float | None:
        return self._wait


class MoneyMovementThrottle(_LimitThrottle):
    """Shared by ``POST /wallet/top-ups/`` and ``POST /transfers/`` (and the money pages), per user."""

    limit = ratelimit.MONEY_MOVEMENTS

    def ident(self, request: Request) -> object | None:
        return request.user.pk if request.user.is_authenticated else None


class RegistrationThrottle(_LimitThrottle):
    """``POST /auth/register/`` (and the sign-up form), per client address."""

    limit = ratelimit.SIGN_UPS

    def ident(self, request: Request) -> object | None:
        return client_ip(request._request) or "unknown"


class SignInThrottle(_LimitThrottle):
    """``POST /auth/token/`` (and the sign-in form), per client address; django-axes locks out per username too."""

    limit = ratelimit.SIGN_INS

    def ident(self, request: Request) -> object | None:
        return client_ip(request._request) or "unknown"
