"""Websocket crash chaos: the daphne serving the sockets is SIGKILLed and restarted while transfers go on.

Each client speaks the protocol of ``docs/websocket.md``: resume with
``after_seq`` on every hello, de-duplicate by seq, resume on a version gap,
ping when idle, reconnect with a short backoff. Afterwards every client holds
every ledger entry that involves its user exactly once, and nothing else, and
no connection got an entry again after its ``resumed`` frame (the protocol lets
a replay overlap live events sent *before* it, never after).

``PAYLANE_CHAOS_SECONDS`` sets how long the chaos lasts at least (default 8); it lasts until
``MIN_KILLS`` kills whatever the time, as a slow machine restarts daphne more slowly.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Q
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from ledger.models import Transaction
from tests.support.chaos import KillableDaphne
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.errors import WalletError
from wallets.models import User, Wallet

CHAOS_SECONDS = float(os.environ.get("PAYLANE_CHAOS_SECONDS", "8"))
# The chaos is these kills at least: CI once got two in 8 s, each restart waiting for a slow daphne.
MIN_KILLS = 3
USERS = 4

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@dataclass
class Subscriber:
    """The documented client, keeping everything the test checks afterwards."""

    url: str
    token: str
    seen: set[int] = field(default_factory=set)
    last_seq: int = 0  # every entry up to here has been handled
    version: int = -1
    balance: str = ""
    connections: int = 0
    duplicates_after_resumed: int = 0
    gaps: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                async with connect(
                    self.url, additional_headers={"Authorization": f"Bearer {self.token}"}, open_timeout=5
                ) as ws:
                    self.connections += 1
                    await self._follow(ws, stop)
            except (ConnectionClosed, OSError, InvalidHandshake, TimeoutError):
                pass
            await asyncio.sleep(random.uniform(0.05, 0.3))

    async def _follow(self, ws: Any, stop: asyncio.Event) -> None:
        frames: Counter[int] = Counter()
        resumes = 0
        resumed = False  # the hello's resume has been answered: from here on, nothing may repeat
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                await ws.send(json.dumps({"type": "ping"}))
                continue
            frame = json.loads(text)
            if frame["type"] == "hello":
                self.version = max(self.version, frame["version"])
                await ws.send(json.dumps({"type": "resume", "after_seq": self.last_seq}))
                resumes += 1
            elif frame["type"] == "transaction":
                frames[frame["seq"]] += 1
                if frames[frame["seq"]] > 1 and resumed and resumes == 1:
                    self.duplicates_after_resumed += 1
                if frame["seq"] in self.seen:
                    continue
                self.seen.add(frame["seq"])
                if frame["version"] > self.version + 1:
                    self.gaps += 1
                    await ws.send(json.dumps({"type": "resume", "after_seq": self.last_seq}))
                    resumes += 1
                else:
                    self.last_seq = max(self.last_seq, frame["seq"])
                if frame["version"] >= self.version:
                    self.version, self.balance = frame["version"], frame["balance"]
            elif frame["type"] == "resumed":
                resumed = True
                self.last_seq = max(self.last_seq, frame["last_seq"])
            elif frame["type"] == "pong" and frame["version"] > self.version:
                self.gaps += 1
                await ws.send(json.dumps({"type": "resume", "after_seq": self.last_seq}))
                resumes += 1


def transfers(user_ids: list[int], stop: threading.Event, done: list[int]) -> None:
    rng = random.Random(11)
    try:
        while not stop.is_set():
            sender, receiver = rng.sample(user_ids, 2)
            try:
                services.transfer_create(
                    sender=User(pk=sender), to_user_id=receiver, amount=f"{rng.randint(1, 3000) / 100:.2f}"
                )
            except WalletError:
                pass  # a FAILED attempt is a ledger entry too, for its sender
            done.append(1)
            time.sleep(0.01)
    finally:
        connection.close()


def entries_of(user_id: int) -> set[int]:
    rows = Transaction.objects.filter(Q(sender_id=user_id) | Q(receiver_id=user_id, status="SUCCESS"))
    return set(rows.values_list("id", flat=True))


def test_clients_of_a_killed_and_restarted_daphne_end_with_every_entry_exactly_once(
    tmp_path: Path, register: Callable[..., User]
) -> None:
    users = [register(f"w{i}", balance="500.00") for i in range(USERS)]
    ids = [u.pk for u in users]
    server = KillableDaphne(log_dir=tmp_path, application_name="wschaos")
    subscribers = [Subscriber(url="", token=token_issue(user=u)) for u in users]
    stop_transfers = threading.Event()
    done: list[int] = []
    rng = random.Random(int(os.environ.get("PAYLANE_CHAOS_SEED", "5")))
    kills = 0

    async def scenario() -> dict[int, set[int]]:
        nonlocal kills
        stop = asyncio.Event()
        for sub in subscribers:
            sub.url = server.ws
        clients = [asyncio.create_task(sub.run(stop)) for sub in subscribers]
        mover = threading.Thread(target=transfers, args=(ids, stop_transfers, done))
        mover.start()
        try:
            deadline = time.monotonic() + CHAOS_SECONDS
            while time.monotonic() < deadline or kills < MIN_KILLS:
                await asyncio.sleep(rng.uniform(0.3, 0.8))
                await asyncio.to_thread(server.kill)
                kills += 1
                await asyncio.sleep(rng.uniform(0.0, 0.5))  # transfers go on while it is down
                await asyncio.to_thread(server.start)
        finally:
            stop_transfers.set()
            await asyncio.to_thread(mover.join, 30)
        expected = await asyncio.to_thread(_expected, ids)
        settle = time.monotonic() + 20
        while time.monotonic() < settle and any(
            not exp <= sub.seen for sub, exp in zip(subscribers, expected.values(), strict=True)
        ):
            await asyncio.sleep(0.1)
        stop.set()
        await asyncio.gather(*clients)
        return expected

    def _expected(user_ids: list[int]) -> dict[int, set[int]]:
        try:
            return {pk: entries_of(pk) for pk in user_ids}
        finally:
            connection.close()

    server.start()
    try:
        expected = asyncio.run(scenario())
    finally:
        server.stop()

    missing = {pk: len(exp - sub.seen) for sub, (pk, exp) in zip(subscribers, expected.items(), strict=True)}
    foreign = {pk: len(sub.seen - exp) for sub, (pk, exp) in zip(subscribers, expected.items(), strict=True)}
    balances = dict(Wallet.objects.filter(user_id__in=ids).values_list("user_id", "balance"))
    print(
        f"\nwebsocket chaos: transfers={len(done)} entries={sum(len(e) for e in expected.values())}"
        f" kills={kills} connections={sum(s.connections for s in subscribers)}"
        f" gaps_resumed={sum(s.gaps for s in subscribers)} missing={sum(missing.values())}"
        f" foreign={sum(foreign.values())}"
        f" duplicates={sum(s.duplicates_after_resumed for s in subscribers)}"
    )
    assert kills >= MIN_KILLS and all(s.connections > kills // 2 for s in subscribers), "the chaos did not happen"
    assert sum(missing.values()) == 0, f"entries never delivered: {missing}"
    assert sum(foreign.values()) == 0, f"entries of other users delivered: {foreign}"
    assert sum(s.duplicates_after_resumed for s in subscribers) == 0
    for sub, user in zip(subscribers, users, strict=True):
        assert Decimal(sub.balance) == balances[user.pk], "the newest frame does not show the final balance"
