"""realtime.notify: who gets which push, and how pushes leave a sync caller."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.db import transaction
from redis.asyncio.connection import AbstractConnection

from realtime import notify
from wallets import services
from wallets.accounts import credentials, tokens
from wallets.accounts.credentials import Credential
from wallets.errors import DailyLimitExceeded, InsufficientFunds
from wallets.models import User


class RecordingLayer(InMemoryChannelLayer):
    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        self.sent.append((group, message))


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> RecordingLayer:
    recording = RecordingLayer()
    monkeypatch.setattr(notify, "get_channel_layer", lambda: recording)
    return recording


def test_transfer_is_pushed_after_commit_to_both_parties_with_their_own_figures(
    alice: User, bob: User, layer: RecordingLayer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00")
    assert [group for group, _ in layer.sent] == [f"wallet.{alice.pk}", f"wallet.{bob.pk}"]
    (_, to_alice), (_, to_bob) = layer.sent
    assert to_alice["type"] == "wallet.transaction"
    assert (to_alice["user_id"], to_alice["frame"]["balance"], to_alice["frame"]["version"]) == (alice.pk, "900.00", 2)
    assert (to_bob["user_id"], to_bob["frame"]["balance"], to_bob["frame"]["version"]) == (bob.pk, "100.00", 1)
    assert to_alice["frame"]["seq"] == to_bob["frame"]["seq"] == entry.pk
    assert to_alice["frame"]["remaining_today"] == "99900.00"
    assert "remaining_today" not in to_bob["frame"]


def test_a_push_costs_the_committing_thread_one_query(
    alice: User, bob: User, layer: RecordingLayer, django_assert_num_queries: Any
) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    fresh = type(entry).objects.get(pk=entry.pk)  # as the service hands it over: no parties loaded
    with django_assert_num_queries(1):
        notify.transaction_committed(fresh)
    assert len(layer.sent) == 2


def test_the_entry_a_transfer_hands_over_is_pushed_without_a_query(
    alice: User, bob: User, layer: RecordingLayer, django_assert_num_queries: Any
) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    top_up = services.wallet_top_up(user=bob, amount="2.00")
    with django_assert_num_queries(0):
        notify.transaction_committed(entry)
        notify.transaction_committed(top_up)
    (_, to_alice), (_, to_bob), (_, top_up_to_bob) = layer.sent
    assert to_alice["frame"]["remaining_today"] == "99999.00"
    assert to_alice["frame"]["transaction"]["receiver"]["username"] == "bob"
    assert to_bob["frame"]["transaction"]["sender"]["username"] == "alice"
    assert top_up_to_bob["frame"]["balance"] == "3.00"


def test_nothing_is_pushed_before_commit(alice: User, bob: User, layer: RecordingLayer) -> None:
    # In a test transaction that never commits, the on_commit push never runs.
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    assert layer.sent == []


@pytest.mark.parametrize("amount", ["5000.00", "100001.00"], ids=["insufficient-funds", "over-daily-limit"])
def test_refused_transfer_pushes_only_its_failed_record_and_only_to_the_sender(
    alice: User, bob: User, layer: RecordingLayer, django_capture_on_commit_callbacks: Any, amount: str
) -> None:
    with django_capture_on_commit_callbacks(execute=True), pytest.raises((InsufficientFunds, DailyLimitExceeded)):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount)
    assert [group for group, _ in layer.sent] == [f"wallet.{alice.pk}"]
    frame = layer.sent[0][1]["frame"]
    assert frame["transaction"]["status"] == "FAILED"
    assert (frame["balance"], frame["version"]) == ("1000.00", 1)


def test_top_up_is_pushed_to_its_receiver(
    bob: User, layer: RecordingLayer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        services.wallet_top_up(user=bob, amount="12.30")
    assert [(group, msg["frame"]["balance"]) for group, msg in layer.sent] == [(f"wallet.{bob.pk}", "12.30")]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_pushes_from_sync_code_reuse_redis_connections_instead_of_opening_one_per_call(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    # async_to_sync(group_send) per call runs each push in a new event loop, with
    # a new Redis connection each time: two thirds of transfer throughput lost.
    assert not isinstance(get_channel_layer(), InMemoryChannelLayer), "this pass needs REDIS_URL"
    opened: list[int] = []
    original = AbstractConnection.on_connect_check_health

    async def counting(self: AbstractConnection, *args: Any, **kwargs: Any) -> None:
        opened.append(1)
        await original(self, *args, **kwargs)

    monkeypatch.setattr(AbstractConnection, "on_connect_check_health", counting)
    for _ in range(30):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    pusher = notify.Pusher._instance
    if pusher is not None:
        assert pusher.flush()
    assert len(opened) <= 4, f"{len(opened)} Redis connections opened for 60 pushes"


# --- Revocations: sent on the revoking thread, before it goes on -----------------------------------


class CrossProcessRecordingLayer:
    """A layer that is not the in-memory one (so a push would go through the pusher), recording sends."""

    def __init__(self, *, hang: bool = False) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.hang = hang

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        if self.hang:  # Redis stalled
            await asyncio.sleep(60)
        self.sent.append((group, message))


@pytest.mark.django_db(transaction=True)  # autocommit: on_commit runs as the DELETE commits
def test_a_revocation_is_published_before_the_revoking_service_returns(
    bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    recording = CrossProcessRecordingLayer()
    monkeypatch.setattr(notify, "get_channel_layer", lambda: recording)
    credential = Credential("token", "d" * 128)
    tokens.token_revoke(user=bob, credential=credential)
    # Already sent, not queued for a thread that sends later: nothing made after this call can overtake it.
    assert recording.sent == [
        (f"wallet.{bob.pk}", {"type": "wallet.revoked", "user_id": bob.pk, "credential": credential.name})
    ]
    credentials.credentials_revoke_all(user=bob)
    assert recording.sent[-1] == (f"wallet.{bob.pk}", {"type": "wallet.revoked", "user_id": bob.pk, "credential": None})


def test_a_revocation_leaves_only_after_commit_and_never_for_a_rollback(
    bob: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    recording = CrossProcessRecordingLayer()
    monkeypatch.setattr(notify, "get_channel_layer", lambda: recording)
    with pytest.raises(RuntimeError), transaction.atomic():
        credentials.credentials_revoke_all(user=bob)
        raise RuntimeError("the deactivation failed")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        credentials.credentials_revoke_all(user=bob)
        assert recording.sent == []  # not before COMMIT
    assert len(callbacks) == 1
    assert len(recording.sent) == 1


@pytest.mark.django_db(transaction=True)
def test_a_stalled_channel_layer_delays_a_revocation_by_the_timeout_only_and_never_fails_it(
    bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(notify, "get_channel_layer", lambda: CrossProcessRecordingLayer(hang=True))
    monkeypatch.setattr(notify, "REVOKE_TIMEOUT", 0.2)
    token = tokens.token_issue(user=bob)
    found = tokens.token_authenticate(key=token)
    assert found is not None
    started = time.monotonic()
    tokens.token_revoke(user=bob, credential=found[1])
    assert time.monotonic() - started < 2.0
    assert tokens.token_authenticate(key=token) is None
