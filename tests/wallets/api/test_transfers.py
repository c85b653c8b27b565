"""POST /api/v1/transfers/: by user id or mobile, refusals, FAILED records, rate limit."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ledger.models import Transaction
from tests.conftest import balance_of
from tests.wallets.api.conftest import Api, error_of, state
from wallets.models import User

TRANSFERS = "/api/v1/transfers/"


def test_transfer_by_user_id_as_integer_or_digits(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    api = api_for(alice)
    first = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "100"})
    second = api.post(TRANSFERS, {"to_user_id": str(bob.pk), "amount": 2.5, "to_mobile": None})
    assert first.status_code == 201 and second.status_code == 201, (first.content, second.content)
    body = first.json()
    assert body["type"] == "TRANSFER" and body["status"] == "SUCCESS" and body["amount"] == "100.00"
    assert body["sender"] == {"user_id": alice.pk, "username": "alice"}
    assert body["receiver"] == {"user_id": bob.pk, "username": "bob"}
    assert balance_of(alice) == Decimal("897.50") and balance_of(bob) == Decimal("102.50")


def test_transfer_by_mobile_number_in_any_common_form(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    response = api_for(alice).post(TRANSFERS, {"to_mobile": "98123 45678", "amount": "10.00"})
    assert response.status_code == 201
    assert response.json()["receiver"]["user_id"] == bob.pk


def test_exactly_one_recipient_field_is_required(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    api = api_for(alice)
    before = state()
    both = api.post(TRANSFERS, {"to_user_id": bob.pk, "to_mobile": "+919812345678", "amount": "1"})
    neither = api.post(TRANSFERS, {"amount": "1", "to_user_id": None})
    for response in (both, neither):
        assert response.status_code == 400
        assert error_of(response)["code"] == "validation_error"
    assert state() == before


def test_refusals_map_to_their_codes_and_statuses(api_for: Callable[[User], Api], alice: User, bob: User) -> None:
    api = api_for(alice)
    before = state()
    cases = [
        ({"to_user_id": alice.pk, "amount": "1"}, 400, "self_transfer"),
        ({"to_user_id": bob.pk, "amount": "0"}, 400, "invalid_amount"),
        ({"to_user_id": "12a", "amount": "1"}, 400, "validation_error"),
        ({"to_user_id": 1.5, "amount": "1"}, 400, "validation_error"),
        ({"to_user_id": 999999, "amount": "1"}, 422, "recipient_not_found"),
        ({"to_user_id": "9" * 19, "amount": "1"}, 422, "recipient_not_found"),
        ({"to_mobile": "+919000000000", "amount": "1"}, 422, "recipient_not_found"),
        ({"to_mobile": "not a phone", "amount": "1"}, 400, "validation_error"),
    ]
    for body, status, code in cases:
        response = api.post(TRANSFERS, body)
        assert (response.status_code, error_of(response)["code"]) == (status, code), body
    bad_mobile = api.post(TRANSFERS, {"to_mobile": "not a phone", "amount": "1"})
    assert list(error_of(bad_mobile)["fields"]) == ["to_mobile"]
    assert state() == before


def test_insufficient_funds_is_422_naming_the_failed_transaction(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    response = api_for(alice).post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5000"})
    assert response.status_code == 422
    error = error_of(response)
    failed = Transaction.objects.get(status="FAILED")
    assert error["code"] == "insufficient_funds"
    assert error["transaction_id"] == failed.pk
    assert error["fields"] == {"amount": [error["message"]]}
    assert balance_of(alice) == Decimal("1000.00")


def test_daily_limit_exceeded_is_422_with_the_failed_transaction(
    api_for: Callable[[User], Api], alice: User, bob: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_DAILY_LIMIT = Decimal("50.00")
    response = api_for(alice).post(TRANSFERS, {"to_user_id": bob.pk, "amount": "60"})
    assert response.status_code == 422
    assert error_of(response)["code"] == "daily_limit_exceeded"
    assert error_of(response)["transaction_id"] == Transaction.objects.get(status="FAILED").pk


def test_money_movements_are_rate_limited_per_user_with_retry_after(
    api_for: Callable[[User], Api], alice: User, bob: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_TRANSFER_RATE = "3/m"
    api = api_for(alice)
    assert api.post("/api/v1/wallet/top-ups/", {"amount": "1"}).status_code == 201
    # Lookups of unknown numbers count too: the endpoint is no directory of registered numbers.
    assert api.post(TRANSFERS, {"to_mobile": "+919000000001", "amount": "1"}).status_code == 422
    assert api.post(TRANSFERS, {"to_mobile": "+919000000002", "amount": "1"}).status_code == 422
    limited = api.post(TRANSFERS, {"to_mobile": "+919812345678", "amount": "1"})
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited"
    assert 1 <= int(limited["Retry-After"]) <= 60
    assert balance_of(bob) == 0
    # Another user has their own allowance.
    assert api_for(bob).post("/api/v1/wallet/top-ups/", {"amount": "1"}).status_code == 201
    # Reads are not limited.
    assert api.get("/api/v1/wallet/").status_code == 200
