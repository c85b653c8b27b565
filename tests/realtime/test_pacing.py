"""A websocket resume is paced per socket, and still complete, in order and gap-free (docs/websocket.md).

Time is a fake clock the test owns: pacing's waits advance it, so "how long a
replay takes" is measured in the time the rate asks for, not in wall-clock speed.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ledger.models import Transaction
from realtime import consumers, pacing
from realtime.pacing import ReplayPace
from tests.realtime.communicator import QUIET, WAIT, connected, pushes_flushed, run, transfer
from wallets import services
from wallets.models import User

pytestmark = pytest.mark.django_db(transaction=True)

RATE, BURST, PAGE = 10.0, 5, 4


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(0)  # a wait cancelled here took no time
        self.now += seconds
        self.waits.append(seconds)

    @property
    def waited(self) -> float:
        return self.now - 1000.0


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings: Any) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(pacing, "monotonic", fake.monotonic)
    monkeypatch.setattr(pacing, "sleep", fake.sleep)
    settings.PAYLANE_WS_REPLAY_RATE = RATE
    settings.PAYLANE_WS_REPLAY_BURST = BURST
    settings.PAYLANE_WS_REPLAY_PAGE_SIZE = PAGE
    return fake


# --- The bucket ---------------------------------------------------------------------------------


def test_the_pace_lets_a_burst_through_then_the_rate() -> None:
    clock = FakeClock()
    pace = ReplayPace(rate=RATE, burst=BURST, clock=clock.monotonic, wait=clock.sleep)

    async def take(n: int) -> None:
        for _ in range(n):
            await pace.take(1)

    asyncio.run(take(BURST))
    assert clock.waited == 0
    asyncio.run(take(20))
    assert clock.waited == pytest.approx(20 / RATE)


def test_the_pace_refills_with_time_up_to_the_burst_only() -> None:
    clock = FakeClock()
    pace = ReplayPace(rate=RATE, burst=BURST, clock=clock.monotonic, wait=clock.sleep)
    asyncio.run(pace.take(BURST))
    clock.now += 3600  # an hour idle earns a burst, not an hour's worth
    asyncio.run(pace.take(BURST + 10))
    assert clock.waits == [pytest.approx(10 / RATE)]


def test_a_rate_of_zero_paces_nothing() -> None:
    clock = FakeClock()
    pace = ReplayPace(rate=0, burst=0, clock=clock.monotonic, wait=clock.sleep)
    asyncio.run(pace.take(10**6))
    assert clock.waits == []


# --- The socket -----------------------------------------------------------------------------------


async def frames_until_resumed(socket: Any) -> list[dict[str, Any]]:
    frames = []
    while (frame := await socket.receive_json_from(timeout=WAIT))["type"] != "resumed":
        frames.append(frame)
    return [*frames, frame]


def test_a_paced_replay_is_complete_in_order_gap_free_and_takes_the_time_the_rate_asks(
    alice: User, bob: User, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    earlier = [services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00").pk for _ in range(23)]
    during: list[int] = []
    original = consumers.replay_page

    async def with_transfers(*, user_id: int, after_seq: int, limit: int) -> Any:
        # A transfer commits before every page read while the replay is paced:
        # each lands in the replay or comes live after it, once.
        during.append((await transfer(sender=alice, to_user_id=bob.pk, amount="2.00")).pk)
        return await original(user_id=user_id, after_seq=after_seq, limit=limit)

    monkeypatch.setattr(consumers, "replay_page", with_transfers)

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        socket, _ = await connected(bob)
        await socket.send_json_to({"type": "resume", "after_seq": 0})
        frames = await frames_until_resumed(socket)
        monkeypatch.setattr(consumers, "replay_page", original)
        await pushes_flushed()
        live = []
        while not await socket.receive_nothing(timeout=QUIET):
            live.append(await socket.receive_json_from(timeout=WAIT))
        await socket.disconnect()
        return frames, live

    frames, live = run(scenario)
    replayed = [f["seq"] for f in frames[:-1]]
    every = list(Transaction.objects.filter(receiver=bob).order_by("id").values_list("id", flat=True))
    assert replayed == sorted(replayed)  # in order
    assert replayed == every[: len(replayed)]  # no gap: everything up to the last one replayed
    assert frames[-1]["last_seq"] == replayed[-1]
    assert sorted(replayed + [f["seq"] for f in live]) == every  # none lost, none twice
    assert set(earlier + during) == set(every)
    assert clock.waited >= (len(replayed) - BURST) / RATE - 1e-9
    assert clock.waited > 0


def test_resuming_again_and_again_never_replays_faster_than_the_rate(alice: User, bob: User, clock: FakeClock) -> None:
    entries = [services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00").pk for _ in range(30)]

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
        socket, _ = await connected(bob)
        await socket.send_json_to({"type": "resume", "after_seq": 0})
        first = await frames_until_resumed(socket)
        waited_first = clock.waited
        # Again, and again while that one runs: each supersedes the last, none starts a fresh bucket.
        for _ in range(5):
            await socket.send_json_to({"type": "resume", "after_seq": 0})
        rest = []
        while True:
            frame = await socket.receive_json_from(timeout=WAIT)
            rest.append(frame)
            if frame["type"] == "resumed" and frame["last_seq"] == entries[-1] and len(rest) >= len(entries):
                if await socket.receive_nothing(timeout=QUIET):
                    break
        await socket.disconnect()
        return first, rest, waited_first

    first, rest, waited_first = run(scenario)
    assert [f["seq"] for f in first[:-1]] == entries
    assert waited_first == pytest.approx((len(entries) - BURST) / RATE)
    sent = [f for f in first + rest if f["type"] == "transaction"]
    # Every entry sent, over the socket's whole life, within what the bucket allows.
    assert len(sent) <= BURST + RATE * clock.waited + 1e-9
    # The last resume's replay is whole and in order.
    last = [f["seq"] for f in rest if f["type"] == "transaction"][-len(entries) :]
    assert last == entries
