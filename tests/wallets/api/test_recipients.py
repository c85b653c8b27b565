"""Payee confirmation over the API: GET /api/v1/recipients/ and PUT /api/v1/auth/name/."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.wallets.api.conftest import Api, error_of
from wallets.models import User

RECIPIENTS = "/api/v1/recipients/"


def test_a_recipient_is_found_by_mobile_or_by_id_with_a_masked_name(
    api_for: Callable[[User], Api], alice: User, register: Callable[..., User]
) -> None:
    bo = register("bo", mobile="+919800000501", first_name="Bobby", last_name="Kumar")
    api = api_for(alice)
    by_mobile = api.get(RECIPIENTS, {"mobile": "+919800000501"})
    by_national = api.get(RECIPIENTS, {"mobile": "98000 00501"})
    by_id = api.get(RECIPIENTS, {"user_id": str(bo.pk)})
    for answer in (by_mobile, by_national, by_id):
        assert (answer.status_code, answer.json()) == (200, {"user_id": bo.pk, "display_name": "Bo*** K****"})
    # A "+" left unencoded in a query string arrives as a space: the number still reads the same.
    assert api.client.get(f"{RECIPIENTS}?mobile=+919800000501", headers=api._headers(None)).json()["user_id"] == bo.pk


def test_unknown_and_unverified_accounts_are_404_recipient_not_found(
    api_for: Callable[[User], Api], alice: User, register: Callable[..., User]
) -> None:
    unverified = register("uma", mobile="+919800000601", verify=False)
    api = api_for(alice)
    for query in ({"mobile": "+919800000600"}, {"mobile": "+919800000601"}, {"user_id": str(unverified.pk)}):
        answer = api.get(RECIPIENTS, query)
        assert (answer.status_code, error_of(answer)["code"]) == (404, "recipient_not_found"), query


def test_a_lookup_names_one_recipient_in_a_form_the_server_reads(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    for query, field in (
        ({}, "recipient"),
        ({"mobile": "+919812345678", "user_id": "2"}, "recipient"),
        ({"mobile": "12"}, "mobile"),
        ({"user_id": "two"}, "user_id"),
    ):
        answer = api.get(RECIPIENTS, query)
        assert (answer.status_code, error_of(answer)["code"]) == (400, "validation_error"), query
        assert list(error_of(answer)["fields"]) == [field], query


def test_lookups_that_find_nobody_are_limited_together_with_payments_by_number(
    api_for: Callable[[User], Api], alice: User, bob: User, settings: Any
) -> None:
    settings.PAYLANE_RECIPIENT_LOOKUP_RATE = "2/h"
    api = api_for(alice)
    for _ in range(4):
        assert api.get(RECIPIENTS, {"mobile": "+919812345678"}).status_code == 200
    assert api.get(RECIPIENTS, {"mobile": "+919800000701"}).status_code == 404
    assert api.post("/api/v1/transfers/", {"to_mobile": "+919800000702", "amount": "1"}).status_code == 422

    over = api.get(RECIPIENTS, {"mobile": "+919812345678"})
    assert (over.status_code, error_of(over)["code"]) == (429, "rate_limited") and int(over["Retry-After"]) > 0
    paid = api.post("/api/v1/transfers/", {"to_mobile": "+919812345678", "amount": "1"})
    assert (paid.status_code, error_of(paid)["code"]) == (429, "rate_limited")
    # Another user's count is their own.
    assert api_for(bob).get(RECIPIENTS, {"mobile": "+919876543210"}).status_code == 200


def test_a_name_set_with_put_is_what_payers_see(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    named = api_for(alice).put("/api/v1/auth/name/", {"first_name": "Asha", "last_name": "Rao"})
    assert (named.status_code, named.json()) == (
        200,
        {"first_name": "Asha", "last_name": "Rao", "display_name": "As** R**"},
    )
    assert api_for(bob).get(RECIPIENTS, {"user_id": str(alice.pk)}).json()["display_name"] == "As** R**"
    cleared = api_for(alice).put("/api/v1/auth/name/", {})
    assert cleared.json() == {"first_name": "", "last_name": "", "display_name": "al***"}
