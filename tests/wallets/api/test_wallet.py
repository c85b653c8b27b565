"""GET /api/v1/wallet/ and POST /api/v1/wallet/top-ups/."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from tests.conftest import balance_of
from tests.wallets.api.conftest import Api, error_of, state
from wallets import services
from wallets.models import User

TOP_UPS = "/api/v1/wallet/top-ups/"


def test_wallet_shows_balance_limits_and_todays_spending(
    api_for: Callable[[User], Api], alice: User, bob: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_DAILY_LIMIT = Decimal("500.00")
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="120.50")
    response = api_for(alice).get("/api/v1/wallet/")
    assert response.status_code == 200
    assert response.json() == {
        "user_id": alice.pk,
        "username": "alice",
        "mobile_number": "+919876543210",
        "mobile_verified": True,
        "pin_set": True,
        "balance": "879.50",
        "currency": "INR",
        "version": 2,
        "daily_limit": "500.00",
        "spent_today": "120.50",
        "remaining_today": "379.50",
    }


def test_top_up_returns_201_and_the_transaction_object(api_for: Callable[[User], Api], alice: User) -> None:
    response = api_for(alice).post(TOP_UPS, {"amount": "250.5"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["type"] == "ADD_MONEY" and body["status"] == "SUCCESS"
    assert body["amount"] == "250.50" and body["currency"] == "INR"
    assert body["sender"] is None
    assert body["receiver"] == {"user_id": alice.pk, "username": "alice"}
    assert body["failure_reason"] is None
    assert body["created_at"].endswith("+05:30")
    assert balance_of(alice) == Decimal("1250.50")


def test_a_json_number_amount_is_read_as_a_decimal_not_a_float(api_for: Callable[[User], Api], alice: User) -> None:
    # 0.1 + 0.2 is not 0.3 in binary floating point; as a decimal it is exact.
    api = api_for(alice)
    assert api.post(TOP_UPS, raw='{"amount": 0.1}').status_code == 201
    assert api.post(TOP_UPS, raw='{"amount": 0.2}').status_code == 201
    assert api.post(TOP_UPS, raw='{"amount": 12}').json()["amount"] == "12.00"
    assert balance_of(alice) == Decimal("1012.30")


def test_top_up_refusals_use_their_codes_and_change_nothing(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    before = state()
    cases = {
        '{"amount": "-5"}': (400, "invalid_amount"),
        '{"amount": 1.005}': (400, "invalid_amount"),
        '{"amount": true}': (400, "invalid_amount"),
        '{"amount": "1e3"}': (400, "invalid_amount"),
        '{"amount": "100000.01"}': (422, "top_up_limit_exceeded"),
        '{"amount": null}': (400, "validation_error"),
        "{}": (400, "validation_error"),
        "[]": (400, "validation_error"),
    }
    for raw, (status, code) in cases.items():
        response = api.post(TOP_UPS, raw=raw)
        assert (response.status_code, error_of(response)["code"]) == (status, code), raw
    assert error_of(api.post(TOP_UPS, raw='{"amount": "-5"}'))["fields"] == {
        "amount": ["The amount must be greater than zero."]
    }
    assert state() == before
