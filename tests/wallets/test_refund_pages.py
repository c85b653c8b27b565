"""The Refund button on the history, and the refund page behind it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.support.forms import form_token, submit
from wallets import refunds, services
from wallets.models import User

pytestmark = pytest.mark.django_db


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def payment(alice: User, bob: User) -> Transaction:
    return services.transfer_create(sender=alice, to_user_id=bob.pk, amount="100.00", note="rent")


def refund_path(entry_id: int) -> str:
    return f"/transactions/{entry_id}/refund/"


def test_the_history_offers_a_refund_on_a_payment_received_only(alice: User, bob: User, payment: Transaction) -> None:
    assert refund_path(payment.pk) in signed_in(bob).get("/transactions/").content.decode()
    # The payer, and a top-up, get no button.
    alice_history = signed_in(alice).get("/transactions/").content.decode()
    assert "/refund/" not in alice_history


def test_a_payment_given_back_in_full_offers_no_refund_any_more(bob: User, payment: Transaction) -> None:
    refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN, amount="60.00")
    client = signed_in(bob)
    assert refund_path(payment.pk) in client.get("/transactions/").content.decode()  # 40.00 left
    assert refund_path(payment.pk) in client.get("/dashboard/").content.decode()
    refunds.refund_create(user=bob, transaction_id=payment.pk, pin=PIN)
    assert refund_path(payment.pk) not in client.get("/transactions/").content.decode()
    assert refund_path(payment.pk) not in client.get("/dashboard/").content.decode()


def test_the_page_starts_at_the_rest_and_refunds_once_per_form(alice: User, bob: User, payment: Transaction) -> None:
    client = signed_in(bob)
    page = client.get(refund_path(payment.pk))
    html = page.content.decode()
    assert page.status_code == 200
    assert 'value="100.00"' in html and 'name="pin"' in html and "rent" in html

    done = submit(client, refund_path(payment.pk), {"amount": "30.00", "note": "part"})
    assert done.status_code == 302
    refund = Transaction.objects.get(transaction_type="REFUND")
    assert (refund.amount, refund.note, refund.corrects_id) == (Decimal("30.00"), "part", payment.pk)
    assert balance_of(bob) == Decimal("70.00")
    assert 'value="70.00"' in client.get(refund_path(payment.pk)).content.decode()
    history = client.get("/transactions/").content.decode()
    assert f"Refund of #{payment.pk}" in history


def test_the_same_form_sent_twice_refunds_once(bob: User, payment: Transaction) -> None:
    client = signed_in(bob)
    token = form_token(client.get(refund_path(payment.pk)).content.decode())
    data = {"amount": "10.00", "note": "", "pin": "4826", "form_token": token}
    assert client.post(refund_path(payment.pk), data).status_code == 302
    assert client.post(refund_path(payment.pk), data).status_code == 302
    assert Transaction.objects.filter(transaction_type="REFUND").count() == 1


def test_refusals_show_in_the_form_and_move_nothing(bob: User, payment: Transaction) -> None:
    client = signed_in(bob)
    too_much = submit(client, refund_path(payment.pk), {"amount": "100.01", "note": ""})
    assert too_much.status_code == 400
    assert "100.00" in too_much.content.decode() and "left to give back" in too_much.content.decode()
    wrong_pin = submit(client, refund_path(payment.pk), {"amount": "1.00", "note": ""}, pin="9731")
    assert wrong_pin.status_code == 400 and "PIN is not right" in wrong_pin.content.decode()
    no_pin = submit(client, refund_path(payment.pk), {"amount": "1.00", "note": "", "pin": ""})
    assert no_pin.status_code == 400 and "Enter your payment PIN" in no_pin.content.decode()
    assert not Transaction.objects.filter(transaction_type="REFUND").exists()


def test_the_payer_a_stranger_and_a_used_up_payment_get_no_form(
    register,
    alice: User,
    bob: User,
    payment: Transaction,  # type: ignore[no-untyped-def]
) -> None:
    payer_page = signed_in(alice).get(refund_path(payment.pk))
    assert payer_page.status_code == 400 and "Only the person who received" in payer_page.content.decode()
    assert 'name="pin"' not in payer_page.content.decode()
    assert signed_in(register("carol")).get(refund_path(payment.pk)).status_code == 404
    assert signed_in(bob).get(refund_path(10**15)).status_code == 404
    assert signed_in(bob).get(refund_path(2**63)).status_code == 404
    assert signed_in(bob).post(refund_path(2**63), {}).status_code == 404
    submit(signed_in(bob), refund_path(payment.pk), {"amount": "100.00", "note": ""})
    used_up = signed_in(bob).get(refund_path(payment.pk))
    assert used_up.status_code == 400 and "Nothing is left" in used_up.content.decode()


def test_the_page_needs_a_sign_in(payment: Transaction) -> None:
    assert Client().get(refund_path(payment.pk)).status_code == 302
