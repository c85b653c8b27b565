"""Two real daphnes sharing one ``PROMETHEUS_MULTIPROC_DIR``: ``/metrics`` on either adds both up.

And a worker killed with SIGKILL (no exit hook) stops counting its open
sockets at the next scrape, while what it counted before stays counted.
Both servers log JSON lines only: daphne's own access lines come through the
one logger (``project.observability.daphne_access``).
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import PIN
from tests.project.test_metrics import Samples, parse, value
from tests.support.chaos import suite_redis_url
from tests.support.live import Daphne, daphne
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

SUCCESS = {"type": "transfer", "outcome": "success", "reason": ""}


def pay(server: Daphne, token: str, to_user_id: int) -> int:
    request = urllib.request.Request(
        server.http + "/api/v1/transfers/",
        data=json.dumps({"to_user_id": to_user_id, "amount": "1.00", "pin": PIN}).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return int(response.status)


def scrape(server: Daphne) -> Samples:
    with urllib.request.urlopen(server.http + "/metrics", timeout=15) as response:  # loopback: no token needed
        return parse(response.read().decode())[1]


def test_two_daphnes_add_up_and_a_killed_ones_sockets_stop_counting(
    tmp_path: Path, register: Callable[..., User]
) -> None:
    alice, bob = register("alice", balance="100.00"), register("bob")
    token = token_issue(user=alice)
    # DEBUG: daphne's own lines (its HTTP and websocket actions) are DEBUG, and must be JSON too.
    json_logs = {"PAYLANE_LOG_FORMAT": "json", "LOG_LEVEL": "DEBUG"}
    with (
        daphne(redis_url=suite_redis_url(), log_dir=tmp_path, extra_env=json_logs) as one,
        daphne(redis_url=suite_redis_url(), log_dir=tmp_path, extra_env=json_logs) as two,
    ):
        assert [pay(one, token, bob.pk), pay(two, token, bob.pk), pay(two, token, bob.pk)] == [201, 201, 201]

        async def sockets_open_on_both() -> tuple[Samples, Samples]:
            headers = {"Authorization": f"Bearer {token}"}
            sockets: list[ClientConnection] = []
            for server in (one, two):
                socket = await connect(server.ws, additional_headers=headers, open_timeout=10)
                assert json.loads(await asyncio.wait_for(socket.recv(), 10))["type"] == "hello"
                sockets.append(socket)
            both = await asyncio.to_thread(scrape, one)
            two.proc.kill()  # SIGKILL: no atexit, its files stay behind
            two.proc.wait(10)
            after_kill = await asyncio.to_thread(scrape, one)
            await sockets[0].close()
            return both, after_kill

        both, after_kill = asyncio.run(sockets_open_on_both())

    assert value(both, "paylane_money_movements_total", **SUCCESS) == 3
    transfers = {"method": "POST", "route": "/api/v1/transfers/", "status": "201"}
    assert value(both, "paylane_http_request_duration_seconds_count", **transfers) == 3
    assert value(both, "paylane_transfer_duration_seconds_count", outcome="success") == 3
    assert value(both, "paylane_websockets_open") == 2
    assert value(both, "paylane_websocket_handshakes_total", outcome="accepted") == 2
    assert value(both, "paylane_database_up") == 1

    assert value(after_kill, "paylane_websockets_open") == 1  # the dead worker's socket no longer counts
    assert value(after_kill, "paylane_money_movements_total", **SUCCESS) == 3  # what it counted stays

    for server in (one, two):
        lines = [line for line in server.log.read_text().splitlines() if line.strip()]
        parsed: list[dict[str, Any]] = [json.loads(line) for line in lines]  # every line is one JSON object
        assert any(p["event"] == "request" and p["route"] == "/api/v1/transfers/" for p in parsed)
        assert any(p["event"] == "websocket_connected" for p in parsed)
