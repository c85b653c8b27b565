"""Money requests live: a ``request`` frame to the payer on creation and to both parties on every status change,
sent only after commit (docs/websocket.md)."""

from __future__ import annotations

from typing import Any

import pytest
from channels.db import database_sync_to_async

from realtime import notify
from tests.conftest import PIN
from tests.realtime.communicator import QUIET, WAIT, connected, run
from tests.realtime.test_notify import RecordingLayer
from wallets import money_requests
from wallets.errors import RequestWrongParty
from wallets.models import MoneyRequest, User
from wallets.request_payloads import request_payload

ask = database_sync_to_async(money_requests.request_create)
pay = database_sync_to_async(money_requests.request_pay)
decline = database_sync_to_async(money_requests.request_decline)


@pytest.fixture
def layer(monkeypatch: pytest.MonkeyPatch) -> RecordingLayer:
    recording = RecordingLayer()
    monkeypatch.setattr(notify, "get_channel_layer", lambda: recording)
    return recording


def frames(layer: RecordingLayer) -> list[tuple[int, str]]:
    """(user id, status) of each request frame pushed, in order."""
    return [
        (message["user_id"], message["frame"]["request"]["status"])
        for _, message in layer.sent
        if message["type"] == "wallet.request"
    ]


@pytest.mark.django_db
def test_a_new_request_goes_to_the_payer_only_after_commit(
    alice: User, bob: User, layer: RecordingLayer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="5")
    assert layer.sent == []  # nothing before COMMIT
    for callback in callbacks:
        callback()
    assert layer.sent == [
        (
            f"wallet.{alice.pk}",
            {
                "type": "wallet.request",
                "user_id": alice.pk,
                "frame": {"type": "request", "request": request_payload(MoneyRequest.objects.get(pk=made.pk))},
            },
        )
    ]


@pytest.mark.django_db
def test_every_status_change_goes_to_both_parties(
    alice: User, bob: User, layer: RecordingLayer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        paid = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="5")
        declined = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="6")
        cancelled = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="7")
    layer.sent.clear()
    with django_capture_on_commit_callbacks(execute=True):
        money_requests.request_pay(payer=alice, request_id=paid.pk, pin=PIN)
    with django_capture_on_commit_callbacks(execute=True):
        money_requests.request_decline(payer=alice, request_id=declined.pk)
    with django_capture_on_commit_callbacks(execute=True):
        money_requests.request_cancel(requester=bob, request_id=cancelled.pk)
    assert frames(layer) == [
        (alice.pk, "PAID"),
        (bob.pk, "PAID"),
        (alice.pk, "DECLINED"),
        (bob.pk, "DECLINED"),
        (alice.pk, "CANCELLED"),
        (bob.pk, "CANCELLED"),
    ]
    # The payment's own transaction frames went out too, naming the request.
    transfers = [m["frame"]["transaction"] for _, m in layer.sent if m["type"] == "wallet.transaction"]
    assert [t["request"] for t in transfers] == [paid.pk, paid.pk]


@pytest.mark.django_db
def test_a_refused_change_pushes_nothing(alice: User, bob: User, layer: RecordingLayer) -> None:
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="5")
    layer.sent.clear()
    with pytest.raises(RequestWrongParty):
        money_requests.request_decline(payer=bob, request_id=made.pk)
    assert layer.sent == []


@pytest.mark.django_db(transaction=True)
def test_the_payer_sees_a_request_live_and_both_see_it_paid(alice: User, bob: User) -> None:
    async def scenario() -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]:
        a, _ = await connected(alice)
        b, _ = await connected(bob)
        made = await ask(requester=bob, to_user_id=alice.pk, amount="12.00", note="lunch")
        incoming = await a.receive_json_from(timeout=WAIT)
        assert await b.receive_nothing(timeout=QUIET)  # the requester is not told of their own request
        await pay(payer=alice, request_id=made.pk, pin=PIN)
        to_alice = [await a.receive_json_from(timeout=WAIT) for _ in range(2)]
        to_bob = [await b.receive_json_from(timeout=WAIT) for _ in range(2)]
        await a.disconnect()
        await b.disconnect()
        return incoming, to_alice, to_bob

    incoming, to_alice, to_bob = run(scenario)
    assert incoming["type"] == "request"
    assert (incoming["request"]["status"], incoming["request"]["amount"], incoming["request"]["note"]) == (
        "PENDING",
        "12.00",
        "lunch",
    )
    assert incoming["request"]["requester"] == {"user_id": bob.pk, "username": "bob"}
    for seen in (to_alice, to_bob):
        by_type = {frame["type"]: frame for frame in seen}
        assert set(by_type) == {"transaction", "request"}
        assert by_type["request"]["request"]["status"] == "PAID"
        assert by_type["transaction"]["transaction"]["request"] == incoming["request"]["id"]
        assert by_type["request"]["request"]["transaction"] == by_type["transaction"]["seq"]


@pytest.mark.django_db
def test_a_resume_replays_the_paying_transfer_naming_its_request(alice: User, bob: User) -> None:
    from realtime.selectors import replay_page

    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="5")
    paid = money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)
    frames_for_bob = replay_page(user_id=bob.pk, after_seq=0, limit=10)
    assert [(f["seq"], f["transaction"]["request"]) for f in frames_for_bob] == [(paid.pk, made.pk)]
