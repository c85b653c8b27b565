"""Racing payments of one money request on PostgreSQL: real threads, each with its own connection."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection

from ledger.models import Transaction
from tests.conftest import PIN
from tests.racing import race
from wallets import money_requests
from wallets.errors import RequestClosed, RequestLimitExceeded
from wallets.models import MoneyRequest, User, Wallet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pin_checked_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each PIN try waits for the one before it (its row lock, and a slow hash): that alone would
    # space the payments out. Without it they all reach the request at once, as the test wants.
    monkeypatch.setattr(money_requests.pins, "pin_verify", lambda **kwargs: None)


@pytest.mark.usefixtures("pin_checked_at_once")
def test_two_racing_payments_of_one_request_pay_it_once(register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="1000.00"), register("bob")
    made = money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="100.00")

    connected = threading.Barrier(6)

    def pay() -> Transaction:
        # Connected first, then all at once: a fresh connection's set-up would space the payments out.
        connection.ensure_connection()
        connected.wait()
        return money_requests.request_pay(payer=alice, request_id=made.pk, pin=PIN)

    results = race([pay] * 6)

    paid = [r for r in results if isinstance(r, Transaction)]
    closed = [r for r in results if isinstance(r, RequestClosed)]
    assert len(paid) == 1 and len(closed) == 5, results
    made.refresh_from_db()
    assert (made.status, made.paid_entry_id) == ("PAID", paid[0].pk)
    assert Wallet.objects.get(user=bob).balance == Decimal("100.00")
    assert Transaction.objects.filter(transaction_type="TRANSFER").count() == 1
    call_command("verify_ledger", verbosity=0)


@pytest.mark.usefixtures("pin_checked_at_once")
def test_a_payment_racing_a_cancel_either_pays_or_is_refused_never_both(register: Callable[..., User]) -> None:
    alice, bob = register("alice", balance="1000.00"), register("bob")
    rounds = 8
    made = [money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="10.00") for _ in range(rounds)]

    for money_request in made:
        pay, cancel = race(
            [
                lambda r=money_request: money_requests.request_pay(payer=alice, request_id=r.pk, pin=PIN),
                lambda r=money_request: money_requests.request_cancel(requester=bob, request_id=r.pk),
            ]
        )
        money_request.refresh_from_db()
        if isinstance(pay, Transaction):
            assert isinstance(cancel, RequestClosed) and money_request.status == "PAID"
        else:
            assert isinstance(pay, RequestClosed) and money_request.status == "CANCELLED"

    paid = MoneyRequest.objects.filter(status="PAID").count()
    assert Wallet.objects.get(user=bob).balance == Decimal("10.00") * paid
    call_command("verify_ledger", verbosity=0)


def test_racing_requests_never_exceed_the_daily_rate(register: Callable[..., User], settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REQUEST_RATE = 3
    alice, bob = register("alice"), register("bob")
    connected = threading.Barrier(8)

    def ask() -> MoneyRequest:
        connection.ensure_connection()
        connected.wait()
        return money_requests.request_create(requester=bob, to_user_id=alice.pk, amount="1.00")

    results = race([ask] * 8)

    assert sum(isinstance(r, MoneyRequest) for r in results) == 3
    assert sum(isinstance(r, RequestLimitExceeded) for r in results) == 5, results
    assert MoneyRequest.objects.filter(requester=bob).count() == 3
