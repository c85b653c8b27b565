"""The Redis master dies under load (SIGKILL): the Sentinels promote the replica.

Websockets are open through HAProxy for every payer, each a client as docs/websocket.md says one
is written: it takes ``hello``, resumes from the last entry it has, de-duplicates by ``seq``,
resumes on a ``version`` gap and reconnects when its socket closes. Payments go on while the
master is killed; afterwards every socket has every entry of its user (live or replayed), and
pushes arrive live again after the promotion (the app follows the new master without a restart).
"""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
import time
from collections import Counter
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from deploy.cluster.processes import kill_tree
from deploy.cluster.sentinels import REDIS_NODES, redis_master
from tests.cluster.support import Payers, Running, User, sign_up

pytestmark = pytest.mark.timeout(300)


class Socket:
    """One user's websocket client, run on the shared event loop of ``Sockets``."""

    def __init__(self, url: str, tls: ssl.SSLContext, user: User) -> None:
        self.url, self.tls, self.user = url, tls, user
        self.seen: dict[int, str] = {}  # seq -> "live" or "replay"
        self.last_seq = -1
        self.version = -1
        self.replaying = False
        self.connects = 0
        self.ws: ClientConnection | None = None
        self.resumed = asyncio.Event()

    async def resume(self) -> None:
        assert self.ws is not None
        self.replaying = True
        self.resumed.clear()
        await self.ws.send(json.dumps({"type": "resume", "after_seq": max(self.last_seq, 0)}))

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                async with connect(
                    self.url, ssl=self.tls, additional_headers={"Authorization": f"Bearer {self.user.token}"}
                ) as ws:
                    self.ws = ws
                    self.connects += 1
                    async for text in ws:
                        await self.frame(json.loads(text))
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidStatus, TimeoutError):
                pass
            self.ws = None
            await asyncio.sleep(0.5)

    async def frame(self, frame: dict[str, Any]) -> None:
        kind = frame["type"]
        if kind == "hello":
            if self.last_seq < 0:  # the first connection: everything before it is counted by hello
                self.last_seq, self.version = frame["last_seq"], frame["version"]
            await self.resume()
        elif kind == "transaction":
            if frame["seq"] not in self.seen:
                self.seen[frame["seq"]] = "replay" if self.replaying else "live"
            if frame["version"] > self.version + 1 and not self.replaying:
                await self.resume()  # a push was lost: the ledger has it
            else:
                self.last_seq = max(self.last_seq, frame["seq"])
                self.version = max(self.version, frame["version"])
        elif kind == "resumed":
            self.last_seq = max(self.last_seq, frame["last_seq"])
            self.replaying = False
            self.resumed.set()


class Sockets:
    """Every user's socket on one event loop in a thread of its own."""

    def __init__(self, cluster: Running, users: list[User]) -> None:
        url = f"wss://127.0.0.1:{cluster.https_port}/ws/wallet/"
        self.sockets = [Socket(url, cluster.tls(), user) for user in users]
        self.loop = asyncio.new_event_loop()
        self.stopping = asyncio.Event()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.tasks: list[Any] = []

    def __enter__(self) -> Sockets:
        self.thread.start()
        self.tasks = [asyncio.run_coroutine_threadsafe(s.run(self.stopping), self.loop) for s in self.sockets]
        deadline = time.monotonic() + 30
        while not all(s.last_seq >= 0 for s in self.sockets):
            assert time.monotonic() < deadline, "the sockets did not open"
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        async def close() -> None:
            self.stopping.set()
            for s in self.sockets:
                if s.ws is not None:
                    await s.ws.close()

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        for task in self.tasks:
            task.result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def resume_all(self) -> None:
        """What a client does at its next ping: ask for anything after what it has, and wait."""

        async def resume(socket: Socket) -> None:
            for _ in range(40):
                if socket.ws is not None:
                    break
                await asyncio.sleep(0.5)
            await socket.resume()
            await asyncio.wait_for(socket.resumed.wait(), 20)

        for socket in self.sockets:
            asyncio.run_coroutine_threadsafe(resume(socket), self.loop).result(30)


def test_the_redis_master_killed_sentinel_promotes_and_sockets_miss_no_entry(
    cluster: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    users = sign_up(cluster, 4)
    state = cluster.state
    master = redis_master(state)
    assert master is not None
    node = next(name for name in REDIS_NODES if master.endswith(f":{state.port(name)}"))
    with Sockets(cluster, users) as sockets:
        with Payers(cluster, users, threads=4) as payers:
            time.sleep(3)
            killing = time.monotonic()
            kill_tree(state.pids[node])
            while redis_master(state) in (None, master):
                assert time.monotonic() - killing < 60, "Sentinel promoted no replica"
                time.sleep(0.1)
            promoted = time.monotonic()
            deadline = time.monotonic() + 60
            while len([t for t in payers.finished() if t.attempts[0].started > promoted + 2 and t.status]) < 20:
                assert time.monotonic() < deadline, "no payments after the promotion"
                time.sleep(0.2)
        sockets.resume_all()
    answered = [t for t in payers.finished() if t.status == 201]
    failures = Counter(a.status for a in payers.failures())
    live_after = [
        t
        for t in answered
        if t.attempts[0].started > promoted + 2 and any(s.seen.get(t.transaction_id) == "live" for s in sockets.sockets)  # type: ignore[arg-type]
    ]
    with capsys.disabled():  # the measurement, shown by make cluster-test
        print(
            f"\nRedis failover: {node} killed, new master {redis_master(state)} "
            f"{promoted - killing:.1f} s later; "
            f"{len(answered)} payments, failed attempts {dict(failures)}, "
            f"connects {[s.connects for s in sockets.sockets]}, live pushes after the promotion {len(live_after)}"
        )
    assert {t.status for t in payers.finished()} == {201}
    # No entry missing: every payment is on both parties' sockets (live, or replayed on resume).
    for socket in sockets.sockets:
        mine = {t.transaction_id for t in answered if socket.user.user_id in (t.sender, t.receiver)}
        missing = mine - set(socket.seen)
        assert not missing, (socket.user.user_id, sorted(missing)[:10])
    # Pushes resumed: payments made after the promotion reached the sockets live, not by replay.
    assert live_after
