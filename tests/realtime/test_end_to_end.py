"""End to end on real parts: daphne processes, PostgreSQL, Redis, the `websockets` client.

Runs in the PostgreSQL + Redis pass (``make test-postgres``). Also covers the
measured channels-redis traps: an idle gap longer than redis-py's 5 s default
socket timeout, and a burst of 200 handshakes (more than the default pool of 100).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from ledger.models import Transaction
from realtime.events import CLOSE_UNAUTHENTICATED
from tests.support.live import Browserless, Daphne, RedisServer, daphne, session_key
from wallets import money_requests, services
from wallets.accounts.tokens import token_issue
from wallets.models import User
from wallets.payloads import transaction_payload

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 5.0


async def subscribe(server: Daphne, token: str) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(server.ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=WAIT)
    hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert hello["type"] == "hello", hello
    return ws, hello


async def next_frame(ws: ClientConnection, timeout: float = WAIT) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), timeout))


async def in_thread(fn: Callable[..., Any], /, **kwargs: Any) -> Any:
    """Run blocking work (HTTP, a service call) off the loop; close the thread's DB connection after."""

    def call() -> Any:
        try:
            return fn(**kwargs)
        finally:
            connection.close()

    return await asyncio.to_thread(call)


def test_transfer_over_http_reaches_both_parties_each_with_their_own_balance(
    servers: tuple[Daphne, Daphne], alice: User, bob: User
) -> None:
    one, _ = servers
    tokens = token_issue(user=alice), token_issue(user=bob)
    page = Browserless(one.http, session_key(alice))

    async def scenario() -> tuple[int, dict[str, Any], dict[str, Any]]:
        a, _ = await subscribe(one, tokens[0])
        b, _ = await subscribe(one, tokens[1])
        status = await in_thread(page.transfer, to_user_id=bob.pk, amount="125.00")
        to_alice, to_bob = await next_frame(a), await next_frame(b)
        await a.close()
        await b.close()
        return status, to_alice, to_bob

    status, to_alice, to_bob = asyncio.run(scenario())
    entry = Transaction.objects.select_related("sender", "receiver").get(pk=to_alice["seq"])
    assert status == 200
    assert (to_alice["balance"], to_alice["version"]) == ("875.00", 2)
    assert (to_bob["balance"], to_bob["version"]) == ("125.00", 1)
    assert to_alice["transaction"] == to_bob["transaction"] == json.loads(json.dumps(transaction_payload(entry)))


def test_transfer_served_by_one_process_reaches_clients_of_another(
    servers: tuple[Daphne, Daphne], alice: User, bob: User
) -> None:
    one, two = servers
    tokens = token_issue(user=alice), token_issue(user=bob)
    page = Browserless(one.http, session_key(alice))

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        a, _ = await subscribe(two, tokens[0])
        b, _ = await subscribe(two, tokens[1])
        await in_thread(page.transfer, to_user_id=bob.pk, amount="40.00")
        frames = await next_frame(a), await next_frame(b)
        await a.close()
        await b.close()
        return frames

    to_alice, to_bob = asyncio.run(scenario())
    assert to_alice["balance"] == "960.00"
    assert to_bob["balance"] == "40.00"


def test_real_server_refuses_cross_origin_with_403_and_missing_credential_with_4401(
    servers: tuple[Daphne, Daphne], alice: User
) -> None:
    one, _ = servers
    cookie = f"sessionid={session_key(alice)}"

    async def scenario() -> tuple[int, int | None, list[Any], str]:
        own = Origin(f"http://127.0.0.1:{one.port}")
        with pytest.raises(InvalidStatus) as refused:
            await connect(one.ws, origin=Origin("http://evil.example"), additional_headers={"Cookie": cookie})
        anonymous = await connect(one.ws, origin=own)
        frames = []
        try:
            frames.append(await asyncio.wait_for(anonymous.recv(), WAIT))
        except ConnectionClosed:
            pass
        ok = await connect(one.ws, origin=own, additional_headers={"Cookie": cookie})
        hello = json.loads(await asyncio.wait_for(ok.recv(), WAIT))
        await ok.close()
        return refused.value.response.status_code, anonymous.close_code, frames, hello["type"]

    status, close_code, frames, hello = asyncio.run(scenario())
    assert status == 403
    assert close_code == CLOSE_UNAUTHENTICATED
    assert frames == []
    assert hello == "hello"


def test_push_arrives_after_an_idle_gap_longer_than_the_redis_read_timeout(
    servers: tuple[Daphne, Daphne], alice: User, bob: User
) -> None:
    # redis-py's default 5 s socket timeout equals the layer's 5 s BRPOP: without
    # socket_timeout=None an idle consumer's read times out and this push is lost.
    one, two = servers
    token = token_issue(user=bob)
    page = Browserless(one.http, session_key(alice))

    async def scenario() -> dict[str, Any]:
        b, _ = await subscribe(two, token)
        await asyncio.sleep(6.5)
        await in_thread(page.transfer, to_user_id=bob.pk, amount="5.00")
        frame = await next_frame(b)
        await b.close()
        return frame

    frame = asyncio.run(scenario())
    assert frame["type"] == "transaction"
    assert frame["balance"] == "5.00"


def test_burst_of_200_handshakes_all_get_hello_and_the_next_event(
    servers: tuple[Daphne, Daphne], alice: User, bob: User
) -> None:
    # More concurrent group_adds than redis-py's default pool of 100 connections,
    # which refuses (MaxConnectionsError) instead of waiting.
    one, _ = servers
    token = token_issue(user=bob)

    async def scenario() -> tuple[list[Any], list[Any]]:
        results = await asyncio.gather(*(subscribe(one, token) for _ in range(200)), return_exceptions=True)
        sockets = [r[0] for r in results if not isinstance(r, BaseException)]
        await in_thread(services.transfer_create, sender=alice, to_user_id=bob.pk, amount="2.00")
        events = await asyncio.gather(*(next_frame(ws) for ws in sockets), return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in sockets))
        return list(results), list(events)

    results, events = asyncio.run(scenario())
    failures = [r for r in results if isinstance(r, BaseException)]
    assert failures == [], f"{len(failures)} of 200 handshakes failed, e.g. {failures[:1]!r}\n{one.output()}"
    assert all(not isinstance(e, BaseException) and e["balance"] == "2.00" for e in events)


def test_redis_outage_never_fails_a_transfer_and_the_service_recovers_by_itself(
    tmp_path: Path, alice: User, bob: User
) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    tokens = token_issue(user=alice), token_issue(user=bob)
    try:
        with daphne(redis_url=redis.url, log_dir=tmp_path) as server:
            page = Browserless(server.http, session_key(alice))

            async def scenario() -> dict[str, Any]:
                b, hello = await subscribe(server, tokens[1])
                redis.stop()
                statuses = [await in_thread(page.transfer, to_user_id=bob.pk, amount=f"{n}.00") for n in (1, 2, 3)]
                redis.start()
                started = time.monotonic()
                while True:  # what a reconnecting client does: retry with a short backoff
                    try:
                        fresh, _ = await subscribe(server, tokens[1])
                        break
                    except (OSError, InvalidStatus, ConnectionClosed, TimeoutError, AssertionError):
                        assert time.monotonic() - started < 10, f"no recovery in 10 s\n{server.output()}"
                        await asyncio.sleep(0.2)
                recovered_after = time.monotonic() - started
                await fresh.send(json.dumps({"type": "resume", "after_seq": hello["last_seq"]}))
                replay = []
                while (frame := await next_frame(fresh))["type"] != "resumed":
                    replay.append(frame)
                await in_thread(page.transfer, to_user_id=bob.pk, amount="4.00")
                live = await next_frame(fresh)
                await fresh.close()
                await b.close()
                return {"statuses": statuses, "replay": replay, "live": live, "recovered_after": recovered_after}

            result = asyncio.run(scenario())
    finally:
        redis.stop()
    assert result["statuses"] == [200, 200, 200]
    assert [f["transaction"]["amount"] for f in result["replay"]] == ["1.00", "2.00", "3.00"]
    assert result["replay"][-1]["balance"] == "6.00"
    assert result["live"]["balance"] == "10.00"
    assert result["recovered_after"] < 10
    assert Transaction.objects.filter(receiver=bob, status="SUCCESS").count() == 4


def test_documented_example_subscriber_replays_then_follows_live_events(
    servers: tuple[Daphne, Daphne], tmp_path: Path, alice: User, bob: User
) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "websocket.md").read_text()
    example = doc.split("## Example subscriber", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "subscriber.py"
    script.write_text(example)
    earlier = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.50")
    env = {**os.environ, "PAYLANE_WS": servers[1].ws, "PAYLANE_TOKEN": token_issue(user=bob)}
    proc = subprocess.Popen(
        [sys.executable, str(script), "--events", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert first.startswith("connected: balance 1.50"), first
        later = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="2.25")
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.decode().splitlines()
    assert proc.returncode == 0, lines
    assert lines == [
        f"#{earlier.pk} TRANSFER SUCCESS 1.50 INR -> balance 1.50",
        f"#{later.pk} TRANSFER SUCCESS 2.25 INR -> balance 3.75",
    ]


def test_documented_example_subscriber_prints_a_money_request_as_it_comes(
    servers: tuple[Daphne, Daphne], tmp_path: Path, alice: User, bob: User
) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "websocket.md").read_text()
    example = doc.split("## Example subscriber", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    script = tmp_path / "subscriber.py"
    script.write_text(example)
    env = {**os.environ, "PAYLANE_WS": servers[0].ws, "PAYLANE_TOKEN": token_issue(user=alice)}
    proc = subprocess.Popen(
        [sys.executable, str(script), "--events", "2"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        assert first.startswith("connected: balance 1000.00"), first
        replayed = proc.stdout.readline().decode()  # the top-up: the replay is done
        assert "ADD_MONEY" in replayed, replayed
        made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="4.00")
        asked = proc.stdout.readline().decode().strip()
        assert asked == f"request {made.pk} PENDING: bob asks alice for 4.00 INR"
        money_requests.request_decline(payer=alice, request_id=made.pk)
        services.wallet_top_up(user=alice, amount="1.00")
        out, _ = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = out.decode().splitlines()
    assert proc.returncode == 0, lines
    assert lines[0] == f"request {made.pk} DECLINED: bob asks alice for 4.00 INR"
    assert lines[1].endswith("ADD_MONEY SUCCESS 1.00 INR -> balance 1001.00")
