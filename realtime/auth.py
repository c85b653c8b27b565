"""Websocket authentication: an API token in the Authorization header, or the session cookie.

When the handshake carries an ``Authorization`` header it alone decides: the
token's user, or nobody (never the cookie), and any Origin or none is accepted,
because a browser page cannot set that header on a websocket, so it opens no
cross-site hole. Without the header the session cookie decides, and only for
an allowed Origin (``AllowedHostsOriginValidator``: cross-origin -> HTTP 403).
Tokens in the query string are ignored: they end up in access logs.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser

from realtime.selectors import any_thread
from wallets.selectors import user_for_token

Scope = dict[str, Any]
ASGIApp = Any


def bearer_token(scope: Scope) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; "" for any other header value; None without one."""
    values = [value for name, value in scope.get("headers", []) if name.lower() == b"authorization"]
    if not values:
        return None
    if len(values) > 1:
        return ""
    scheme, _, token = values[0].decode("latin-1").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _user_or_anonymous(key: str) -> Any:
    return user_for_token(key=key) or AnonymousUser()


# One read that shares nothing with its thread: any executor thread will do.
_user_for_token = any_thread(_user_or_anonymous)


class TokenAuthMiddleware:
    """Sets ``scope["user"]`` from the Bearer token (AnonymousUser when it is missing or invalid)."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        key = bearer_token(scope) or ""
        user = await _user_for_token(key) if key else AnonymousUser()
        return await self.inner({**scope, "user": user, "auth": "token"}, receive, send)


class TokenOrSessionAuth:
    """Route a websocket handshake to ``token_app`` (Authorization header present) or to ``session_app``."""

    def __init__(self, *, token_app: ASGIApp, session_app: ASGIApp) -> None:
        self.token_app = token_app
        self.session_app = session_app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        app = self.token_app if bearer_token(scope) is not None else self.session_app
        return await app(scope, receive, send)
