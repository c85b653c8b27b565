"""/api/v1/requests/: ask, list, pay (PIN, Idempotency-Key), decline, cancel, mute (docs/api.md, "Requests")."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from tests.conftest import PIN, balance_of
from tests.wallets.api.conftest import Api, error_of, state
from wallets import money_requests
from wallets.models import MoneyRequest, User

REQUESTS = "/api/v1/requests/"


def test_asking_answers_201_with_the_request_object(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    response = api_for(bob).post(REQUESTS, {"to_mobile": "+91 98765 43210", "amount": "120.5", "note": "dinner"})
    assert response.status_code == 201, response.content
    body = response.json()
    made = MoneyRequest.objects.get()
    assert body["id"] == made.pk
    assert (body["status"], body["amount"], body["currency"], body["note"]) == ("PENDING", "120.50", "INR", "dinner")
    assert body["requester"] == {"user_id": bob.pk, "username": "bob"}
    assert body["payer"] == {"user_id": alice.pk, "username": "alice"}
    assert body["expires_at"] > body["created_at"] and body["closed_at"] is None and body["transaction"] is None


def test_asking_refusals(api_for: Callable[[User], Api], alice: User, bob: User, register, settings) -> None:  # type: ignore[no-untyped-def]
    carol = register("carol", verify=False)
    api = api_for(bob)
    before = state()
    cases = [
        ({"to_user_id": bob.pk, "amount": "1"}, 400, "self_request"),
        ({"to_user_id": carol.pk, "amount": "1"}, 422, "recipient_not_found"),
        ({"to_user_id": alice.pk, "to_mobile": "+919876543210", "amount": "1"}, 400, "validation_error"),
        ({"to_user_id": alice.pk, "amount": "0"}, 400, "invalid_amount"),
        ({"to_user_id": alice.pk, "amount": "1", "note": "x" * 81}, 400, "validation_error"),
    ]
    for body, status, code in cases:
        response = api.post(REQUESTS, body)
        assert (response.status_code, error_of(response)["code"]) == (status, code), body
    assert state() == before and not MoneyRequest.objects.exists()
    settings.PAYLANE_REQUEST_RATE = 1
    assert api.post(REQUESTS, {"to_user_id": alice.pk, "amount": "1"}).status_code == 201
    over = api.post(REQUESTS, {"to_user_id": alice.pk, "amount": "1"})
    assert (over.status_code, error_of(over)["code"]) == (429, "request_limit_exceeded")
    assert int(over["Retry-After"]) >= 1


def test_lists_incoming_and_outgoing_by_status_in_keyset_pages(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    ids = [money_requests.request_create(requester=bob, to_user_id=alice.pk, amount=str(n)).pk for n in (1, 2, 3)]
    mine = money_requests.request_create(requester=alice, to_user_id=bob.pk, amount="9").pk
    money_requests.request_decline(payer=alice, request_id=ids[0])
    api = api_for(alice)
    first = api.get(REQUESTS, {"direction": "incoming", "status": "PENDING", "limit": "1"}).json()
    assert [r["id"] for r in first["results"]] == [ids[2]] and first["next_cursor"]
    second = api.get(
        REQUESTS, {"direction": "incoming", "status": "PENDING", "limit": "1", "cursor": first["next_cursor"]}
    ).json()
    assert [r["id"] for r in second["results"]] == [ids[1]] and second["next_cursor"] is None
    assert [r["id"] for r in api.get(REQUESTS, {"direction": "outgoing"}).json()["results"]] == [mine]
    assert [r["id"] for r in api.get(REQUESTS, {"status": "DECLINED"}).json()["results"]] == [ids[0]]
    assert [r["id"] for r in api.get(REQUESTS).json()["results"]] == [mine, *reversed(ids)]
    for bad in ({"direction": "sideways"}, {"status": "LOST"}):
        assert error_of(api.get(REQUESTS, bad))["code"] == "validation_error"


def test_paying_answers_201_with_the_transaction_naming_the_request(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="25", note="tickets")
    api = api_for(alice)
    paid = api.post(f"{REQUESTS}{made.pk}/pay/", {"pin": PIN})
    assert paid.status_code == 201, paid.content
    body = paid.json()
    assert (body["type"], body["amount"], body["note"], body["request"]) == ("TRANSFER", "25.00", "tickets", made.pk)
    assert body["receiver"]["user_id"] == bob.pk
    assert api.get(f"/api/v1/transactions/{body['id']}/").json()["request"] == made.pk
    assert api.get("/api/v1/transactions/").json()["results"][0]["request"] == made.pk
    shown = api.get(f"{REQUESTS}{made.pk}/").json()
    assert (shown["status"], shown["transaction"]) == ("PAID", body["id"])
    again = api.post(f"{REQUESTS}{made.pk}/pay/", {"pin": PIN})
    assert (again.status_code, error_of(again)["code"]) == (409, "request_closed")
    assert balance_of(bob) == Decimal("25.00")


def test_a_retried_payment_with_its_key_replays_and_pays_once(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="25")
    other = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="5")
    api = api_for(alice)
    first = api.post(f"{REQUESTS}{made.pk}/pay/", {"pin": PIN}, **{"Idempotency-Key": "k1"})
    retry = api.post(f"{REQUESTS}{made.pk}/pay/", {"pin": PIN}, **{"Idempotency-Key": "k1"})
    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry["Idempotent-Replayed"] == "true"
    assert first.json()["request"] == made.pk
    elsewhere = api.post(f"{REQUESTS}{other.pk}/pay/", {"pin": PIN}, **{"Idempotency-Key": "k1"})
    assert (elsewhere.status_code, error_of(elsewhere)["code"]) == (422, "idempotency_key_reused")
    assert balance_of(bob) == Decimal("25.00")


def test_paying_refusals(api_for: Callable[[User], Api], alice: User, bob: User, register) -> None:  # type: ignore[no-untyped-def]
    carol = register("carol")
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="25")
    before = state()
    cases = [
        (api_for(alice), {}, 400, "pin_required"),
        (api_for(alice), {"pin": "0000"}, 403, "invalid_pin"),
        (api_for(bob), {"pin": PIN}, 403, "request_wrong_party"),
        (api_for(carol), {"pin": PIN}, 404, "not_found"),
    ]
    for api, body, status, code in cases:
        response = api.post(f"{REQUESTS}{made.pk}/pay/", body)
        assert (response.status_code, error_of(response)["code"]) == (status, code), code
    missing = api_for(alice).post(f"{REQUESTS}{made.pk + 99}/pay/", {"pin": PIN})
    assert missing.status_code == 404
    assert state() == before
    poor = money_requests.request_create(requester=alice, to_user_id=bob.pk, amount="5")
    short = api_for(bob).post(f"{REQUESTS}{poor.pk}/pay/", {"pin": PIN})
    assert (short.status_code, error_of(short)["code"]) == (422, "insufficient_funds")
    assert error_of(short)["transaction_id"]


def test_decline_by_the_payer_and_cancel_by_the_requester(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    one = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="1")
    two = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="2")
    wrong = api_for(bob).post(f"{REQUESTS}{one.pk}/decline/")
    assert (wrong.status_code, error_of(wrong)["code"]) == (403, "request_wrong_party")
    declined = api_for(alice).post(f"{REQUESTS}{one.pk}/decline/")
    assert declined.status_code == 200 and declined.json()["status"] == "DECLINED"
    wrong = api_for(alice).post(f"{REQUESTS}{two.pk}/cancel/")
    assert (wrong.status_code, error_of(wrong)["code"]) == (403, "request_wrong_party")
    cancelled = api_for(bob).post(f"{REQUESTS}{two.pk}/cancel/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    closed = api_for(bob).post(f"{REQUESTS}{two.pk}/cancel/")
    assert (closed.status_code, error_of(closed)["code"]) == (409, "request_closed")
    assert api_for(bob).get(f"{REQUESTS}999999/").status_code == 404


def test_mute_list_and_unmute(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    api = api_for(alice)
    muted = api.post(f"{REQUESTS}mutes/", {"user_id": bob.pk})
    assert muted.status_code == 201 and muted.json()["user_id"] == bob.pk
    assert [m["username"] for m in api.get(f"{REQUESTS}mutes/").json()["results"]] == ["bob"]
    refused = api_for(bob).post(REQUESTS, {"to_user_id": alice.pk, "amount": "1"})
    assert (refused.status_code, error_of(refused)["code"]) == (422, "recipient_not_found")
    assert error_of(api.post(f"{REQUESTS}mutes/", {"user_id": alice.pk}))["code"] == "self_request"
    assert api.delete(f"{REQUESTS}mutes/{bob.pk}/").status_code == 204
    assert api.delete(f"{REQUESTS}mutes/{bob.pk}/").status_code == 404
    assert api_for(bob).post(REQUESTS, {"to_user_id": alice.pk, "amount": "1"}).status_code == 201


def test_anonymous_callers_are_refused(anon: Api) -> None:
    assert anon.get(REQUESTS).status_code == 401
    assert anon.post(REQUESTS, {"to_user_id": 1, "amount": "1"}).status_code == 401
