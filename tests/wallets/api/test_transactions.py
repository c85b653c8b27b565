"""GET /api/v1/transactions/ (cursor pages) and /api/v1/transactions/{id}/."""

from __future__ import annotations

from collections.abc import Callable

from ledger.models import Transaction
from tests.wallets.api.conftest import Api, error_of
from wallets import services
from wallets.api.pagination import cursor_encode
from wallets.errors import InsufficientFunds
from wallets.models import User

LIST = "/api/v1/transactions/"


def test_history_is_newest_first_in_the_shared_transaction_shape(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10")
    body = api_for(alice).get(LIST).json()
    assert body["next_cursor"] is None
    assert [(t["type"], t["amount"]) for t in body["results"]] == [("TRANSFER", "10.00"), ("ADD_MONEY", "1000.00")]
    assert set(body["results"][0]) == {
        "id",
        "type",
        "status",
        "amount",
        "currency",
        "sender",
        "receiver",
        "failure_reason",
        "created_at",
        "note",
        "corrects",
        "request",
    }


def test_failed_attempts_are_shown_to_their_sender_only(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    try:
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5000")
    except InsufficientFunds:
        pass
    failed = Transaction.objects.get(status="FAILED")
    alice_ids = [t["id"] for t in api_for(alice).get(LIST).json()["results"]]
    bob_ids = [t["id"] for t in api_for(bob).get(LIST).json()["results"]]
    assert failed.pk in alice_ids and failed.pk not in bob_ids
    assert api_for(alice).get(f"{LIST}{failed.pk}/").json()["failure_reason"] == "insufficient_funds"
    assert api_for(bob).get(f"{LIST}{failed.pk}/").status_code == 404


def test_cursor_pages_cover_everything_once_even_while_new_rows_arrive(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    for _ in range(6):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    api = api_for(alice)
    expected = list(Transaction.objects.filter(sender=alice).values_list("id", flat=True).order_by("-id"))
    expected.append(Transaction.objects.get(receiver=alice).pk)
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 3} | ({"cursor": cursor} if cursor else {})
        page = api.get(LIST, params).json()
        seen += [t["id"] for t in page["results"]]
        # Someone pays alice between pages: the new row is newer than every page already served.
        services.transfer_create(sender=bob, to_user_id=alice.pk, amount="0.01")
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert str(seen[-1]) not in cursor  # opaque, not a bare id
    assert seen == expected


def test_limit_defaults_to_20_and_is_capped_at_100(
    api_for: Callable[[User], Api], register: Callable[..., User]
) -> None:
    rich = register("rich")
    for _ in range(105):
        services.wallet_top_up(user=rich, amount="1")
    api = api_for(rich)
    assert len(api.get(LIST).json()["results"]) == 20
    capped = api.get(LIST, {"limit": "9" * 18}).json()
    assert len(capped["results"]) == 100 and capped["next_cursor"] is not None
    last = api.get(LIST, {"limit": 100, "cursor": capped["next_cursor"]}).json()
    assert len(last["results"]) == 5 and last["next_cursor"] is None


def test_bad_limit_or_cursor_is_a_400(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    for params in (
        {"limit": "0"},
        {"limit": "-1"},
        {"limit": "ten"},
        {"cursor": "garbage"},
        {"cursor": "djE6OTk5OTk5OTk5OTk5OTk5OTk5OTk5"},
    ):
        response = api.get(LIST, params)
        assert response.status_code == 400, params
        assert error_of(response)["code"] == "validation_error"


def test_a_cursor_is_refused_unless_it_is_one_the_api_issues(api_for: Callable[[User], Api], alice: User) -> None:
    # The schema states the cursors the API issues; a padded or doctored spelling of one is not one.
    api = api_for(alice)
    issued = cursor_encode(5)
    assert api.get(LIST, {"cursor": issued}).status_code == 200
    for cursor in (issued + "==", issued[:4] + "!" + issued[4:], issued + "\n", cursor_encode(10**18)):
        response = api.get(LIST, {"cursor": cursor})
        assert response.status_code == 400, cursor
        assert error_of(response)["fields"].keys() == {"cursor"}


def test_one_transaction_only_for_its_parties(
    api_for: Callable[[User], Api], alice: User, bob: User, register: Callable[..., User]
) -> None:
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="3")
    carol = register("carol")
    assert api_for(alice).get(f"{LIST}{entry.pk}/").json()["id"] == entry.pk
    assert api_for(bob).get(f"{LIST}{entry.pk}/").json()["amount"] == "3.00"
    for path in (f"{LIST}{entry.pk}/", f"{LIST}99999999/", f"{LIST}{'9' * 30}/"):
        response = api_for(carol).get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
