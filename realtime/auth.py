"""Websocket authentication: an API token in the Authorization header, or the session cookie.

When the handshake carries an ``Authorization`` header it alone decides: the
token's user, or nobody (never the cookie), and any Origin or none is accepted,
because a browser page cannot set that header on a websocket, so it opens no
cross-site hole. Without the header the session cookie decides, and only for
an allowed Origin (``AllowedHostsOriginValidator``: cross-origin -> HTTP 403).
Tokens in the query string are ignored: they end up in access logs.

Either way the scope also gets ``scope["credential"]``, the
``wallets.accounts.credentials.Credential`` that authenticated the socket: the
consumer checks it again later and closes (4401) when it is revoked.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib.auth.models import AnonymousUser

from realtime.events import CLOSE_TRY_AGAIN
from realtime.selectors import any_thread
from telemetry.metrics import WEBSOCKET_HANDSHAKES
from wallets.accounts.credentials import Credential
from wallets.accounts.tokens import token_authenticate
from wallets.database_unavailable import is_connection_lost

logger = logging.getLogger(__name__)

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


# One read that shares nothing with its thread: any executor thread will do.
_token_authenticate = any_thread(token_authenticate)


class TokenAuthMiddleware:
    """Sets ``scope["user"]`` and ``scope["credential"]`` from the Bearer token (AnonymousUser and None without one)."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        key = bearer_token(scope) or ""
        found = await _token_authenticate(key=key) if key else None
        user, credential = found if found is not None else (AnonymousUser(), None)
        return await self.inner({**scope, "user": user, "credential": credential, "auth": "token"}, receive, send)


class SessionCredentialMiddleware:
    """Inside Channels' ``AuthMiddlewareStack``: ``scope["credential"]`` is the session that signed the user in."""

    def __init__(self, inner: ASGIApp) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        session_key = scope["session"].session_key if scope["user"].is_authenticated else None
        credential = Credential("session", session_key) if session_key else None
        return await self.inner({**scope, "credential": credential}, receive, send)


class TokenOrSessionAuth:
    """Route a websocket handshake to ``token_app`` (Authorization header present) or to ``session_app``."""

    def __init__(self, *, token_app: ASGIApp, session_app: ASGIApp) -> None:
        self.token_app = token_app
        self.session_app = session_app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> Any:
        app = self.token_app if bearer_token(scope) is not None else self.session_app
        accepted = False

        async def send_noting_accept(message: dict[str, Any]) -> None:
            nonlocal accepted
            accepted = accepted or message.get("type") == "websocket.accept"
            await send(message)

        try:
            return await app(scope, receive, send_noting_accept)
        except Exception as exc:
            # The database connection died while the handshake read the credential (the token's
            # lookup, Channels' session and user): not a 500 for the upgrade, but the close the
            # consumer gives a lost database later on: 1013, reconnect and resume
            # (wallets.database_unavailable). Anything else, or after the accept, is not ours.
            if accepted or not is_connection_lost(exc):
                raise
            logger.warning("websocket refused, database connection lost: %r", exc)
            WEBSOCKET_HANDSHAKES.labels("unavailable").inc()
            message = await receive()
            if message.get("type") == "websocket.connect":
                await send({"type": "websocket.accept"})
                await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})
            return None
