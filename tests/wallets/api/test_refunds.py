"""POST /api/v1/transactions/{id}/refund/: the receiver gives a payment back, idempotently."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.wallets.api.conftest import Api
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = pytest.mark.django_db


def refund_path(entry_id: int) -> str:
    return f"/api/v1/transactions/{entry_id}/refund/"


@pytest.fixture
def payment(alice: User, bob: User) -> Transaction:
    return services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00", note="rent")


@pytest.fixture
def bob_api(bob: User) -> Api:
    return Api(token_issue(user=bob))


def test_refund_answers_201_with_the_new_entry(alice: User, bob: User, payment: Transaction, bob_api: Api) -> None:
    response = bob_api.post(refund_path(payment.pk), {"amount": "40.00", "pin": PIN, "note": "part of it"})

    assert response.status_code == 201, response.json()
    body = response.json()
    refund = Transaction.objects.get(pk=body["id"])
    assert body == {
        "id": refund.pk,
        "type": "REFUND",
        "status": "SUCCESS",
        "amount": "40.00",
        "currency": "INR",
        "sender": {"user_id": bob.pk, "username": "bob"},
        "receiver": {"user_id": alice.pk, "username": "alice"},
        "failure_reason": None,
        "created_at": body["created_at"],
        "note": "part of it",
        "corrects": payment.pk,
        "request": None,
    }
    assert balance_of(bob) == Decimal("60.00")
    # The rest, by default.
    rest = bob_api.post(refund_path(payment.pk), {"pin": PIN})
    assert rest.status_code == 201 and rest.json()["amount"] == "60.00"


def test_refusals_carry_their_codes_and_statuses(
    register: Callable[..., User], alice: User, bob: User, payment: Transaction, bob_api: Api
) -> None:
    alice_api = Api(token_issue(user=alice))
    carol_api = Api(token_issue(user=register("carol")))

    def refusal(api: Api, path: str, body: dict[str, str]) -> tuple[int, str]:
        response = api.post(path, body)
        return response.status_code, response.json()["error"]["code"]

    assert refusal(alice_api, refund_path(payment.pk), {"pin": PIN}) == (403, "not_refundable")
    assert refusal(carol_api, refund_path(payment.pk), {"pin": PIN}) == (404, "not_found")
    assert refusal(bob_api, refund_path(10**12), {"pin": PIN}) == (404, "not_found")
    assert refusal(bob_api, refund_path(2**63), {"pin": PIN}) == (404, "not_found")
    assert refusal(bob_api, refund_path(payment.pk), {}) == (400, "pin_required")
    assert refusal(bob_api, refund_path(payment.pk), {"pin": "9731"}) == (403, "invalid_pin")
    assert refusal(bob_api, refund_path(payment.pk), {"pin": PIN, "amount": "100.01"}) == (400, "invalid_amount")
    assert refusal(bob_api, refund_path(payment.pk), {"pin": PIN, "note": "\x07"}) == (400, "validation_error")
    services.transfer_create(sender=bob, to_user_id=alice.pk, amount="99.00")
    assert refusal(bob_api, refund_path(payment.pk), {"pin": PIN}) == (400, "insufficient_funds")
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="99.00")
    assert bob_api.post(refund_path(payment.pk), {"pin": PIN}).status_code == 201
    assert refusal(bob_api, refund_path(payment.pk), {"pin": PIN}) == (409, "already_refunded")
    assert not Transaction.objects.filter(transaction_type="REFUND", status="FAILED").exists()


def test_a_retry_with_the_same_key_replays_and_moves_nothing(bob: User, payment: Transaction, bob_api: Api) -> None:
    first = bob_api.post(refund_path(payment.pk), {"amount": "10.00", "pin": PIN}, **{"Idempotency-Key": "r-1"})
    again = bob_api.post(refund_path(payment.pk), {"amount": "10.00", "pin": PIN}, **{"Idempotency-Key": "r-1"})

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert Transaction.objects.filter(transaction_type="REFUND").count() == 1
    assert balance_of(bob) == Decimal("90.00")


def test_the_same_key_on_another_payment_is_a_reuse(alice: User, bob: User, payment: Transaction, bob_api: Api) -> None:
    other = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5.00")
    assert bob_api.post(refund_path(payment.pk), {"pin": PIN}, **{"Idempotency-Key": "k"}).status_code == 201
    reused = bob_api.post(refund_path(other.pk), {"pin": PIN}, **{"Idempotency-Key": "k"})
    assert (reused.status_code, reused.json()["error"]["code"]) == (422, "idempotency_key_reused")
