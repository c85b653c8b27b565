"""Revocation on real parts: two daphne processes, Redis, the `websockets` client (PostgreSQL + Redis pass).

A revoked credential closes every socket it opened, on every process, within a
second, with 4401, and a transfer made after the revoking request answered
never reaches them. With Redis down at revocation time the socket closes on
its next resume instead.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from realtime.events import CLOSE_UNAUTHENTICATED
from tests.realtime.test_end_to_end import WAIT, in_thread, next_frame, subscribe
from tests.support.live import Browserless, Daphne, RedisServer, daphne, session_key
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def token_delete(server: Daphne, token: str) -> int:
    request = urllib.request.Request(
        server.http + "/api/v1/auth/token/", method="DELETE", headers={"Authorization": f"Bearer {token}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


async def until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None, float]:
    """Every frame the socket gets until it is closed, its close code, and when the close came."""
    frames = []
    try:
        while True:
            frames.append(json.loads(await asyncio.wait_for(ws.recv(), WAIT)))
    except ConnectionClosed as closed:
        return frames, closed.rcvd.code if closed.rcvd else None, time.monotonic()


def test_deleting_a_token_closes_its_sockets_on_every_process_within_a_second_before_any_later_transfer(
    servers: tuple[Daphne, Daphne], alice: User, bob: User
) -> None:
    one, two = servers
    token = token_issue(user=bob)
    page = Browserless(two.http, session_key(alice))

    async def scenario() -> dict[str, Any]:
        sockets = [(await subscribe(one, token))[0], (await subscribe(two, token))[0]]
        watching = [asyncio.create_task(until_closed(ws)) for ws in sockets]
        status = await in_thread(token_delete, server=one, token=token)
        answered = time.monotonic()
        # Made after the DELETE answered, served by the other process.
        transfer_status = await in_thread(page.transfer, to_user_id=bob.pk, amount="7.00")
        results = await asyncio.gather(*watching)
        return {"status": status, "answered": answered, "transfer": transfer_status, "results": results}

    result = asyncio.run(scenario())
    assert result["status"] == 204
    assert result["transfer"] == 200
    for frames, code, closed_at in result["results"]:
        assert code == CLOSE_UNAUTHENTICATED
        assert closed_at - result["answered"] < 1.0
        assert [f for f in frames if f["type"] == "transaction"] == []


def test_signing_out_closes_the_sessions_socket_on_another_process(
    servers: tuple[Daphne, Daphne], alice: User, bob: User
) -> None:
    one, two = servers
    key = session_key(bob)
    browser = Browserless(one.http, key)
    payer = Browserless(one.http, session_key(alice))

    async def scenario() -> tuple[int, list[dict[str, Any]], int | None, float, float]:
        ws = await connect(
            two.ws, origin=Origin(f"http://127.0.0.1:{two.port}"), additional_headers={"Cookie": f"sessionid={key}"}
        )
        assert json.loads(await asyncio.wait_for(ws.recv(), WAIT))["type"] == "hello"
        watching = asyncio.create_task(until_closed(ws))
        status = await in_thread(browser.logout)
        answered = time.monotonic()
        await in_thread(payer.transfer, to_user_id=bob.pk, amount="3.00")
        frames, code, closed_at = await watching
        return status, frames, code, closed_at, answered

    status, frames, code, closed_at, answered = asyncio.run(scenario())
    assert status == 200
    assert code == CLOSE_UNAUTHENTICATED
    assert closed_at - answered < 1.0
    assert frames == []


def test_with_redis_down_at_revocation_the_delete_still_answers_and_the_socket_closes_on_its_next_resume(
    tmp_path: Path, bob: User
) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    token = token_issue(user=bob)
    try:
        with daphne(redis_url=redis.url, log_dir=tmp_path) as server:

            async def scenario() -> dict[str, Any]:
                ws, _ = await subscribe(server, token)
                redis.stop()
                started = time.monotonic()
                status = await in_thread(token_delete, server=server, token=token)
                took = time.monotonic() - started
                try:  # the message was lost: the socket is still open
                    early: Any = await asyncio.wait_for(ws.recv(), 0.5)
                except TimeoutError:
                    early = None
                await ws.send(json.dumps({"type": "resume", "after_seq": 0}))
                frames, code, _ = await until_closed(ws)
                return {"status": status, "took": took, "early": early, "frames": frames, "code": code}

            result = asyncio.run(scenario())
    finally:
        redis.stop()
    assert result["status"] == 204
    assert result["took"] < 3.0  # waited for Redis at most REVOKE_TIMEOUT, then answered
    assert result["early"] is None
    assert result["code"] == CLOSE_UNAUTHENTICATED
    assert result["frames"] == []


def test_a_live_socket_of_a_token_that_stays_gets_its_transfers(
    servers: tuple[Daphne, Daphne], alice: User, bob: User
) -> None:
    # The control for the tests above: a socket whose credential is not revoked keeps receiving.
    one, two = servers
    revoked, kept = token_issue(user=bob), token_issue(user=bob)

    async def scenario() -> dict[str, Any]:
        ws, _ = await subscribe(two, kept)
        await in_thread(token_delete, server=one, token=revoked)
        await in_thread(services.transfer_create, sender=alice, to_user_id=bob.pk, amount="4.00")
        frame = await next_frame(ws)
        await ws.close()
        return frame

    assert asyncio.run(scenario())["balance"] == "4.00"
