"""Redis through Sentinel: the Redis master is SIGKILLed and the service follows the promotion by itself.

A private master, its replica and three redis-sentinel processes (tests/support/sentinel.py), and a
real daphne configured with ``REDIS_SENTINELS`` only (no ``REDIS_URL``). Before the kill a socket
gets its push and the rate limits count on the master. After the kill and the promotion, with no
restart of daphne: /readyz reports Redis fine again, the socket opened before the failover still
gets pushes (its subscription moved to the new master) and, resuming, every entry since the last
it saw (none missing, the pushes dropped during the failover included), a new socket gets pushes
too, and the rate-limit counters are written on the new master. No transfer is refused for it, before, during or after.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from websockets.asyncio.client import ClientConnection, connect

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.support.live import daphne
from tests.support.sentinel import SentinelGroup
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 10.0


def call(base: str, method: str, path: str, token: str, body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    request = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as refused:
        status, raw = refused.code, refused.read()
    return status, json.loads(raw) if raw else None


def ready(base: str) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(base + "/readyz", timeout=10) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as refused:
        return dict(json.loads(refused.read()))


async def next_transaction(ws: ClientConnection) -> dict[str, Any]:
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if frame.get("type") == "transaction":
            return dict(frame)


def test_the_service_follows_a_sentinel_failover_without_a_restart(tmp_path: Path, alice: User, bob: User) -> None:
    group = SentinelGroup(tmp_path / "redis")
    group.start()
    env = {"REDIS_SENTINELS": group.sentinels, "REDIS_SENTINEL_MASTER": group.master_name}
    alice_token, bob_token = token_issue(user=alice), token_issue(user=bob)
    pay = {"to_user_id": bob.pk, "amount": "1.00", "pin": PIN}
    statuses: list[int] = []
    try:
        with daphne(redis_url="", log_dir=tmp_path, extra_env=env) as server:

            def transfer() -> int:
                status, _ = call(server.http, "POST", "/api/v1/transfers/", alice_token, pay)
                statuses.append(status)
                return status

            async def scenario() -> dict[str, Any]:
                headers = {"Authorization": f"Bearer {bob_token}"}
                early = await connect(server.ws, additional_headers=headers, open_timeout=WAIT)
                assert json.loads(await asyncio.wait_for(early.recv(), WAIT))["type"] == "hello"
                assert await asyncio.to_thread(transfer) == 201
                before = await next_transaction(early)
                assert group.client(group.master_port).keys("*throttle:money*"), "rate limits not on the master"
                assert ready(server.http)["status"] == "ok"

                group.kill_master()
                # During the failover: money still moves (pushes are hints; the ledger has them).
                assert await asyncio.to_thread(transfer) == 201
                failover = await asyncio.to_thread(group.wait_for_promotion)

                # After it, by itself: Redis ready again, then a push reaches the socket opened before.
                started = time.monotonic()
                while (answer := await asyncio.to_thread(ready, server.http))["status"] != "ok":
                    assert time.monotonic() - started < WAIT, answer
                    await asyncio.sleep(0.2)
                late = await connect(server.ws, additional_headers=headers, open_timeout=WAIT)
                assert json.loads(await asyncio.wait_for(late.recv(), WAIT))["type"] == "hello"
                after_seqs: list[int] = []
                deadline = time.monotonic() + WAIT
                while True:
                    assert await asyncio.to_thread(transfer) == 201
                    try:
                        frame = await asyncio.wait_for(next_transaction(early), 2)
                    except TimeoutError:
                        assert time.monotonic() < deadline, f"no push after the failover\n{server.output()}"
                        continue
                    after_seqs.append(frame["seq"])
                    break
                on_late = await next_transaction(late)
                # No entry missing: the socket opened before the kill resumes after the last entry it
                # saw before it and gets every one since (the pushes dropped during the failover too).
                await early.send(json.dumps({"type": "resume", "after_seq": before["seq"]}))
                resumed: list[int] = []
                while (frame := json.loads(await asyncio.wait_for(early.recv(), WAIT)))["type"] != "resumed":
                    if frame["type"] == "transaction":
                        resumed.append(frame["seq"])
                await early.close()
                await late.close()
                return {
                    "before": before,
                    "after": after_seqs,
                    "late": on_late,
                    "resumed": resumed,
                    "failover": failover,
                }

            seen = asyncio.run(scenario())

            # The rate limits count on the new master (the fallback retries Redis within seconds).
            deadline = time.monotonic() + WAIT
            while not group.client(group.replica_port).keys("*throttle:money*"):
                assert time.monotonic() < deadline, "rate limits did not move to the new master"
                transfer()
                time.sleep(0.5)
            log = server.log.read_text(errors="replace")
            assert "Internal Server Error" not in log and "Exception inside application" not in log, log[-4000:]
    finally:
        group.stop()

    print(f"sentinel: master killed -> replica promoted in {seen['failover']:.1f} s")  # a figure, not asserted
    assert seen["before"]["transaction"]["amount"] == "1.00"
    assert seen["late"]["seq"] == seen["after"][-1]  # the same entry on the old socket and the new one
    assert set(statuses) == {201}
    since = Transaction.objects.filter(receiver=bob, id__gt=seen["before"]["seq"], id__lte=seen["after"][-1])
    assert set(since.values_list("id", flat=True)) <= set(seen["resumed"])
    moved = Transaction.objects.filter(status="SUCCESS", transaction_type="TRANSFER").count()
    assert moved == len(statuses)
    assert balance_of(bob) == Decimal(moved)
    call_command("verify_ledger")
