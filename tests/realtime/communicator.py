"""Helpers for WebsocketCommunicator tests: the real ASGI stack, authenticated either way."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from project.asgi import application
from realtime import notify
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.models import User

ALLOWED_ORIGIN = b"http://localhost"
# How long a test waits for a frame that must come, and for one that must not.
WAIT = 3.0
QUIET = 0.4


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    """Run an async scenario from a sync test (DB calls then share the test's thread and connection)."""
    return async_to_sync(scenario)()


def bearer(user: User) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token_issue(user=user)}".encode())]


def session_cookie(user: User) -> list[tuple[bytes, bytes]]:
    client = Client()
    client.force_login(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())]


def communicator(headers: list[tuple[bytes, bytes]], path: str = "/ws/wallet/") -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[(b"host", b"localhost"), *headers])


async def connected(who: User | list[tuple[bytes, bytes]]) -> tuple[WebsocketCommunicator, dict[str, Any]]:
    """A connected communicator (a user's Bearer token, or the given headers) and its hello frame."""
    headers = await database_sync_to_async(bearer)(who) if isinstance(who, User) else who
    comm = communicator(headers)
    ok, _ = await comm.connect(timeout=WAIT)
    assert ok
    hello = await comm.receive_json_from(timeout=WAIT)
    assert hello["type"] == "hello"
    return comm, hello


async def pushes_flushed() -> None:
    """Let the cross-process pusher (Redis pass) hand over everything submitted so far."""
    pusher = notify.Pusher._instance
    if pusher is not None:
        await database_sync_to_async(pusher.flush)()


transfer = database_sync_to_async(services.transfer_create)
top_up = database_sync_to_async(services.wallet_top_up)
