"""The websocket protocol through WebsocketCommunicator on the real ASGI stack (docs/websocket.md).

Runs on SQLite with the in-memory layer and on PostgreSQL with channels-redis.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import InMemoryChannelLayer
from channels_redis.pubsub import RedisPubSubChannelLayer

from ledger.models import Transaction
from realtime import consumers, notify
from realtime.events import CLOSE_UNAUTHENTICATED, transaction_frame
from tests.realtime.communicator import (
    ALLOWED_ORIGIN,
    QUIET,
    WAIT,
    communicator,
    connected,
    pushes_flushed,
    run,
    session_cookie,
    top_up,
    transfer,
)
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.errors import InsufficientFunds
from wallets.models import User

pytestmark = pytest.mark.django_db(transaction=True)


# --- Authentication ------------------------------------------------------------------------


def test_token_without_origin_gets_hello_with_balance_version_and_last_seq(alice: User) -> None:
    last = Transaction.objects.filter(receiver=alice).latest("id")

    async def scenario() -> dict[str, Any]:
        comm, hello = await connected(alice)
        await comm.disconnect()
        return hello

    hello = run(scenario)
    assert hello == {
        "type": "hello",
        "user_id": alice.pk,
        "balance": "1000.00",
        "version": 1,
        "last_seq": last.pk,
        "remaining_today": "100000.00",
    }


def test_session_cookie_from_allowed_origin_gets_hello(alice: User) -> None:
    headers = [*session_cookie(alice), (b"origin", ALLOWED_ORIGIN)]

    async def scenario() -> dict[str, Any]:
        comm, hello = await connected(headers)
        await comm.disconnect()
        return hello

    assert run(scenario)["user_id"] == alice.pk


@pytest.mark.parametrize("origin", [b"http://evil.example", None], ids=["cross-origin", "no-origin"])
def test_session_cookie_without_an_allowed_origin_is_refused_at_handshake(alice: User, origin: bytes | None) -> None:
    headers = session_cookie(alice) + ([(b"origin", origin)] if origin else [])

    async def scenario() -> tuple[bool, Any]:
        comm = communicator(headers)
        ok, code = await comm.connect(timeout=WAIT)
        await comm.disconnect()
        return ok, code

    ok, _ = run(scenario)
    assert not ok


@pytest.mark.parametrize(
    "headers",
    [
        [(b"origin", ALLOWED_ORIGIN)],
        [(b"authorization", b"Bearer not-a-token")],
        [(b"authorization", b"Token whatever")],
        [(b"authorization", b"Bearer ")],
    ],
    ids=["no-credential", "unknown-token", "other-scheme", "empty-bearer"],
)
def test_missing_or_invalid_credential_is_closed_4401_before_any_frame(
    alice: User, headers: list[tuple[bytes, bytes]]
) -> None:
    async def scenario() -> dict[str, Any]:
        comm = communicator(headers)
        ok, _ = await comm.connect(timeout=WAIT)
        assert ok
        first = await comm.receive_output(timeout=WAIT)
        await comm.disconnect()
        return first

    assert run(scenario) == {"type": "websocket.close", "code": CLOSE_UNAUTHENTICATED}


def test_authorization_header_alone_decides_even_with_a_valid_cookie(alice: User) -> None:
    headers = [*session_cookie(alice), (b"origin", ALLOWED_ORIGIN), (b"authorization", b"Bearer wrong")]

    async def scenario() -> dict[str, Any]:
        comm = communicator(headers)
        await comm.connect(timeout=WAIT)
        first = await comm.receive_output(timeout=WAIT)
        await comm.disconnect()
        return first

    assert run(scenario)["code"] == CLOSE_UNAUTHENTICATED


def test_token_in_query_string_is_not_accepted(alice: User) -> None:
    key = token_issue(user=alice)

    async def scenario() -> dict[str, Any]:
        comm = communicator([(b"origin", ALLOWED_ORIGIN)], path=f"/ws/wallet/?token={key}")
        await comm.connect(timeout=WAIT)
        first = await comm.receive_output(timeout=WAIT)
        await comm.disconnect()
        return first

    assert run(scenario)["code"] == CLOSE_UNAUTHENTICATED


# --- Live events -------------------------------------------------------------------------------


def test_transfer_pushes_each_party_its_own_balance_and_version(alice: User, bob: User) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any], Transaction]:
        a, _ = await connected(alice)
        b, _ = await connected(bob)
        entry = await transfer(sender=alice, to_user_id=bob.pk, amount="250.50")
        to_alice = await a.receive_json_from(timeout=WAIT)
        to_bob = await b.receive_json_from(timeout=WAIT)
        await a.disconnect()
        await b.disconnect()
        return to_alice, to_bob, entry

    to_alice, to_bob, entry = run(scenario)
    assert to_alice["type"] == to_bob["type"] == "transaction"
    assert to_alice["seq"] == to_bob["seq"] == entry.pk
    assert (to_alice["balance"], to_alice["version"]) == ("749.50", 2)
    assert (to_bob["balance"], to_bob["version"]) == ("250.50", 1)
    assert to_alice["remaining_today"] == "99749.50"
    assert "remaining_today" not in to_bob
    assert to_alice["transaction"] == to_bob["transaction"]
    assert to_alice["transaction"]["amount"] == "250.50"
    assert to_alice["transaction"]["sender"] == {"user_id": alice.pk, "username": "alice"}
    assert to_alice["transaction"]["receiver"] == {"user_id": bob.pk, "username": "bob"}


def test_every_open_socket_of_a_user_gets_the_event(alice: User, bob: User) -> None:
    async def scenario() -> list[int]:
        tabs = [(await connected(bob))[0] for _ in range(3)]
        entry = await transfer(sender=alice, to_user_id=bob.pk, amount="1.00")
        seqs = [(await tab.receive_json_from(timeout=WAIT))["seq"] for tab in tabs]
        for tab in tabs:
            await tab.disconnect()
        return [entry.pk, *seqs]

    seq, *seen = run(scenario)
    assert seen == [seq, seq, seq]


def test_failed_attempt_goes_to_the_sender_only_with_unchanged_version(alice: User, bob: User) -> None:
    async def scenario() -> tuple[dict[str, Any], bool]:
        a, _ = await connected(alice)
        b, _ = await connected(bob)
        with pytest.raises(InsufficientFunds):
            await transfer(sender=alice, to_user_id=bob.pk, amount="5000.00")
        to_alice = await a.receive_json_from(timeout=WAIT)
        await pushes_flushed()
        bob_quiet = await b.receive_nothing(timeout=QUIET)
        await a.disconnect()
        await b.disconnect()
        return to_alice, bob_quiet

    to_alice, bob_quiet = run(scenario)
    assert to_alice["transaction"]["status"] == "FAILED"
    assert to_alice["transaction"]["failure_reason"] == "insufficient_funds"
    assert (to_alice["balance"], to_alice["version"]) == ("1000.00", 1)
    assert bob_quiet


def test_a_user_never_receives_another_users_entries(alice: User, bob: User, carol: User) -> None:
    async def scenario() -> tuple[bool, list[dict[str, Any]]]:
        c, _hello = await connected(carol)
        b, _ = await connected(bob)
        await transfer(sender=alice, to_user_id=bob.pk, amount="3.00")
        await b.receive_json_from(timeout=WAIT)
        await pushes_flushed()
        quiet = await c.receive_nothing(timeout=QUIET)
        await c.send_json_to({"type": "resume", "after_seq": 0})
        replay = [await c.receive_json_from(timeout=WAIT) for _ in range(2)]
        await c.disconnect()
        await b.disconnect()
        return quiet, replay

    quiet, replay = run(scenario)
    assert quiet
    assert [f["type"] for f in replay] == ["transaction", "resumed"]
    assert replay[0]["transaction"]["receiver"]["user_id"] == carol.pk


# --- Resume ---------------------------------------------------------------------------------------


async def _frames_until_resumed(comm: Any) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await comm.receive_json_from(timeout=WAIT)
        frames.append(frame)
        if frame["type"] == "resumed":
            return frames


def test_resume_replays_every_missed_entry_oldest_first_then_resumed(alice: User, bob: User) -> None:
    first = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")
    missed = [services.transfer_create(sender=bob, to_user_id=alice.pk, amount=f"{n}.00") for n in (1, 2, 3)]

    async def scenario() -> list[dict[str, Any]]:
        a, hello = await connected(alice)
        assert hello["last_seq"] == missed[-1].pk
        await a.send_json_to({"type": "resume", "after_seq": first.pk})
        frames = await _frames_until_resumed(a)
        await a.disconnect()
        return frames

    frames = run(scenario)
    assert [f.get("seq") for f in frames[:-1]] == [e.pk for e in missed]
    assert [f["version"] for f in frames[:-1]] == [3, 4, 5]
    assert frames[-1] == {"type": "resumed", "last_seq": missed[-1].pk, "remaining_today": "99990.00"}


def test_long_replay_is_read_in_pages(alice: User, bob: User, settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.PAYLANE_WS_REPLAY_PAGE_SIZE = 2
    entries = [services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00") for _ in range(5)]
    limits: list[int] = []
    original = consumers.replay_page

    async def recording(*, user_id: int, after_seq: int, limit: int) -> Any:
        limits.append(limit)
        return await original(user_id=user_id, after_seq=after_seq, limit=limit)

    monkeypatch.setattr(consumers, "replay_page", recording)

    async def scenario() -> list[dict[str, Any]]:
        b, _ = await connected(bob)
        await b.send_json_to({"type": "resume", "after_seq": 0})
        frames = await _frames_until_resumed(b)
        await b.disconnect()
        return frames

    frames = run(scenario)
    assert [f.get("seq") for f in frames[:-1]] == [e.pk for e in entries]
    assert limits == [2, 2, 2]


def test_events_committed_while_the_replay_is_read_arrive_once_and_none_is_lost(
    alice: User, bob: User, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.PAYLANE_WS_REPLAY_PAGE_SIZE = 2
    for _ in range(3):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    original = consumers.replay_page
    during: list[int] = []
    calls: list[int] = []

    async def racing(*, user_id: int, after_seq: int, limit: int) -> Any:
        # Around each page read: a transfer commits before it (it lands in the replay
        # and its live push must be skipped) and one after it (live, or the next page).
        calls.append(after_seq)
        if len(calls) <= 3:
            during.append((await transfer(sender=alice, to_user_id=bob.pk, amount="2.00")).pk)
        page = await original(user_id=user_id, after_seq=after_seq, limit=limit)
        if len(calls) <= 3 or len(page) < limit:
            during.append((await transfer(sender=alice, to_user_id=bob.pk, amount="3.00")).pk)
        return page

    monkeypatch.setattr(consumers, "replay_page", racing)

    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        b, hello = await connected(bob)
        await b.send_json_to({"type": "resume", "after_seq": 0})
        frames = await _frames_until_resumed(b)
        monkeypatch.setattr(consumers, "replay_page", original)
        await pushes_flushed()
        live = []
        while not await b.receive_nothing(timeout=QUIET):
            live.append(await b.receive_json_from(timeout=WAIT))
        await b.disconnect()
        return hello, frames, live

    _hello, frames, live = run(scenario)
    replayed = [f["seq"] for f in frames if f["type"] == "transaction"]
    live_seqs = [f["seq"] for f in live]
    every = sorted(Transaction.objects.filter(receiver=bob).values_list("id", flat=True))
    assert sorted(replayed + live_seqs) == every  # none lost, none twice
    assert replayed == sorted(replayed)
    assert all(seq > frames[-1]["last_seq"] for seq in live_seqs)
    assert live_seqs  # the transfer after the last page came live
    assert set(during) <= set(replayed + live_seqs)


def test_a_replay_that_fails_on_the_server_closes_the_socket_with_1013_so_the_client_reconnects(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def failing(*, user_id: int, after_seq: int, limit: int) -> Any:
        raise ConnectionError("database gone")

    monkeypatch.setattr(consumers, "replay_page", failing)

    async def scenario() -> dict[str, Any]:
        a, _ = await connected(alice)
        await a.send_json_to({"type": "resume", "after_seq": 0})
        closed = await a.receive_output(timeout=WAIT)
        await a.disconnect()
        return closed

    assert run(scenario) == {"type": "websocket.close", "code": 1013}


def test_live_push_of_an_entry_already_covered_by_hello_or_resume_is_skipped(alice: User) -> None:
    from channels.layers import get_channel_layer

    from realtime.notify import user_group

    def frame_of(seq: int) -> Any:
        return transaction_frame(Transaction.objects.select_related("sender", "receiver").get(pk=seq), alice.pk)

    async def scenario() -> list[int]:
        a, hello = await connected(alice)
        layer, group = get_channel_layer(), user_group(alice.pk)
        late = await database_sync_to_async(frame_of)(hello["last_seq"])
        stale = {"type": "wallet.transaction", "user_id": alice.pk, "frame": late}
        await layer.group_send(group, stale)  # a delayed push of what hello already counts
        await top_up(user=alice, amount="1.00")
        fresh = await a.receive_json_from(timeout=WAIT)
        await a.send_json_to({"type": "resume", "after_seq": hello["last_seq"]})
        frames = await _frames_until_resumed(a)
        # The same entry pushed again after the replay covered it; then a marker we know is new.
        await layer.group_send(group, {**stale, "frame": fresh})
        marker = {**fresh, "seq": 10**15}
        await layer.group_send(group, {**stale, "frame": marker})
        after = await a.receive_json_from(timeout=WAIT)
        await a.disconnect()
        return [fresh["seq"], *[f.get("seq", -1) for f in frames], after["seq"]]

    fresh, *rest = run(scenario)
    assert rest == [fresh, -1, 10**15]


# --- Heartbeat and bad frames ----------------------------------------------------------------


def test_ping_answers_pong_with_the_current_version(alice: User) -> None:
    async def scenario() -> dict[str, Any]:
        a, _ = await connected(alice)
        await top_up(user=alice, amount="5.00")
        await a.receive_json_from(timeout=WAIT)
        await a.send_json_to({"type": "ping"})
        pong = await a.receive_json_from(timeout=WAIT)
        await a.disconnect()
        return pong

    assert run(scenario) == {"type": "pong", "version": 2, "remaining_today": "100000.00"}


@pytest.mark.parametrize(
    ("send", "code"),
    [
        (lambda c: c.send_to(text_data="{not json"), "bad_frame"),
        (lambda c: c.send_to(text_data="[1, 2]"), "bad_frame"),
        (lambda c: c.send_to(text_data='{"kind": "ping"}'), "bad_frame"),
        (lambda c: c.send_to(bytes_data=b'{"type": "ping"}'), "bad_frame"),
        (lambda c: c.send_json_to({"type": "subscribe"}), "unknown_type"),
        (lambda c: c.send_json_to({"type": "resume"}), "bad_frame"),
        (lambda c: c.send_json_to({"type": "resume", "after_seq": "5"}), "bad_frame"),
        (lambda c: c.send_json_to({"type": "resume", "after_seq": -1}), "bad_frame"),
        (lambda c: c.send_json_to({"type": "resume", "after_seq": True}), "bad_frame"),
        (lambda c: c.send_json_to({"type": "resume", "after_seq": 1.5}), "bad_frame"),
        (lambda c: c.send_json_to({"type": "resume", "after_seq": 2**63}), "bad_frame"),
    ],
    ids=[
        "bad-json",
        "not-object",
        "no-type",
        "binary",
        "unknown-type",
        "no-after-seq",
        "string-after-seq",
        "negative-after-seq",
        "bool-after-seq",
        "float-after-seq",
        "huge-after-seq",
    ],
)
def test_bad_frame_gets_an_error_and_the_connection_stays_open(
    alice: User, send: Callable[[Any], Any], code: str
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        a, _ = await connected(alice)
        await send(a)
        error = await a.receive_json_from(timeout=WAIT)
        await a.send_json_to({"type": "ping"})
        pong = await a.receive_json_from(timeout=WAIT)
        await a.disconnect()
        return error, pong

    error, pong = run(scenario)
    assert error["type"] == "error"
    assert error["code"] == code
    assert error["message"]
    assert pong["type"] == "pong"


class _BrokenInMemoryLayer(InMemoryChannelLayer):
    async def group_send(self, group: str, message: Any) -> None:
        raise ConnectionError("channel layer down")


class _BrokenRedisLayer:
    async def group_send(self, group: str, message: Any) -> None:
        raise ConnectionError("channel layer down")


@pytest.mark.parametrize("layer", [_BrokenInMemoryLayer, _BrokenRedisLayer], ids=["in-memory", "cross-process"])
def test_push_failure_is_swallowed_so_it_never_fails_the_committed_transfer(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch, layer: type
) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="7.00")
    broken = layer()
    monkeypatch.setattr(notify, "get_channel_layer", lambda: broken)
    notify.transaction_committed(entry)  # must not raise: on_commit(robust=True) is the second net
    pusher = notify.Pusher._instance
    if layer is _BrokenRedisLayer:
        assert pusher is not None and pusher.layer is broken
        assert pusher.flush()
        assert pusher.backlog == 0


def test_quiet_wait_helper_is_not_vacuous(alice: User) -> None:
    # receive_nothing must see a frame that is there, or the "nothing arrived" checks prove nothing.
    async def scenario() -> bool:
        a, _ = await connected(alice)
        await a.send_json_to({"type": "ping"})
        await asyncio.sleep(0.2)
        nothing = await a.receive_nothing(timeout=QUIET)
        await a.disconnect()
        return nothing

    assert run(scenario) is False


async def _forget_group(group: str) -> None:
    """Drop this process's membership of a group, as a lost subscription or an expired group would."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if isinstance(layer, InMemoryChannelLayer):
        layer.groups.pop(group, None)
        return
    assert isinstance(layer, RedisPubSubChannelLayer)
    inner = layer._get_layer()  # this event loop's layer: the communicator's consumer runs on it
    name = inner._get_group_channel_name(group)
    inner.groups.pop(name, None)
    await inner._get_shard(name).unsubscribe(name)


def test_ping_renews_a_group_membership_the_layer_lost(alice: User, bob: User) -> None:
    from realtime.notify import user_group

    async def scenario() -> tuple[bool, dict[str, Any]]:
        b, _ = await connected(bob)
        await _forget_group(user_group(bob.pk))
        await transfer(sender=alice, to_user_id=bob.pk, amount="1.00")
        await pushes_flushed()
        lost = await b.receive_nothing(timeout=QUIET)  # expired: this push cannot arrive
        await b.send_json_to({"type": "ping"})
        await b.receive_json_from(timeout=WAIT)
        await transfer(sender=alice, to_user_id=bob.pk, amount="2.00")
        event = await b.receive_json_from(timeout=WAIT)
        await b.disconnect()
        return lost, event

    lost, event = run(scenario)
    assert lost
    assert event["balance"] == "3.00"


# --- The event loop's own work --------------------------------------------------------------


def test_no_handler_or_push_waits_on_djangos_thread_sensitive_thread(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Channels' own dispatch ran close_old_connections there before every handler (a hop per
    # frame and per push, queued behind every socket's); the consumer reads only on any thread.
    from asgiref.sync import SyncToAsync

    headers = [bearer_headers(alice), bearer_headers(bob)]
    used: list[str] = []
    original = SyncToAsync.__call__

    async def recording(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = getattr(self.func, "__qualname__", repr(self.func))
        if self._thread_sensitive and name not in TEST_HELPERS:
            used.append(name)
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", recording)

    async def scenario() -> list[dict[str, Any]]:
        a, _ = await connected(headers[0])
        b, _ = await connected(headers[1])
        await top_up(user=alice, amount="5.00")
        await pushes_flushed()
        frames = [await a.receive_json_from(timeout=WAIT)]
        await a.send_json_to({"type": "ping"})
        frames.append(await a.receive_json_from(timeout=WAIT))
        await a.send_json_to({"type": "resume", "after_seq": 0})
        while frames[-1]["type"] != "resumed":
            frames.append(await a.receive_json_from(timeout=WAIT))
        await a.disconnect()
        await b.disconnect()
        return frames

    frames = run(scenario)
    assert [f["type"] for f in frames[:2]] == ["transaction", "pong"]
    assert frames[-1]["type"] == "resumed"
    assert used == []


# What the test itself runs through database_sync_to_async (communicator.py).
TEST_HELPERS = {"wallet_top_up", "Pusher.flush"}


def bearer_headers(user: User) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token_issue(user=user)}".encode())]
