"""The payment PIN and payee confirmation on the pages: the money forms, pay-by-mobile's two steps, /pin/, /name/."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.support.forms import form_token, submit
from tests.support.logs import mentions
from tests.support.sms import last_code
from wallets.accounts import pins
from wallets.idempotency import body_fingerprint
from wallets.models import IdempotencyKey, PaymentPin, User

WRONG = "1357"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def html_without_tokens(response: object) -> str:
    """The page, its hidden inputs' values (CSRF and form tokens: random text) blanked out."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.sub(r'(<input type="hidden" name="[^"]+" value=")[^"]*"', r'\1"', html)


def pin_input(html: str) -> str:
    match = re.search(r'<input type="password" name="pin"[^>]*>', html)
    assert match, "no PIN field"
    return match.group(0)


def test_the_money_forms_ask_for_the_pin_masked_numeric_and_never_autocompleted(alice: User) -> None:
    client = signed_in(alice)
    for path in ("/transfer/", "/dashboard/"):
        field = pin_input(client.get(path).content.decode())
        assert 'autocomplete="off"' in field and 'inputmode="numeric"' in field and "value=" not in field
    assert 'name="pin"' not in client.get("/add-money/").content.decode()  # top-ups need no PIN


def test_a_transfer_form_without_the_right_pin_is_refused_and_moves_nothing(
    alice: User, bob: User, register: Callable[..., User]
) -> None:
    before = Transaction.objects.count()
    client = signed_in(alice)
    missing = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5"}, pin=None)
    wrong = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5"}, pin=WRONG)
    no_pin = submit(
        signed_in(register("nia", pin=None, balance="10.00")), "/transfer/", {"to_user_id": str(bob.pk), "amount": "5"}
    )

    assert missing.status_code == 400 and "Enter your payment PIN." in missing.content.decode()
    assert wrong.status_code == 400 and "That PIN is not right. 4 more wrong PINs" in wrong.content.decode()
    assert no_pin.status_code == 400 and "Set a payment PIN first" in no_pin.content.decode()
    assert 'href="/pin/"' in no_pin.content.decode()
    assert Transaction.objects.count() == before + 1  # nia's top-up only
    assert balance_of(bob) == 0


def test_five_wrong_pins_on_the_pages_lock_payments_with_423_even_with_the_right_pin(alice: User, bob: User) -> None:
    client = signed_in(alice)
    for _ in range(4):
        assert submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5"}, pin=WRONG).status_code == 400
    fifth = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5"}, pin=WRONG)
    right = submit(client, "/pay-mobile/", {"mobile_number": "+919812345678", "amount": "5"})

    for locked in (fifth, right):
        assert locked.status_code == 423 and 890 <= int(locked["Retry-After"]) <= 900
        assert "payments are locked until" in locked.content.decode()
    assert balance_of(bob) == 0
    page = client.get("/pin/").content.decode()
    assert 'id="pin-locked"' in page and "Send a code to +919876543210" in page


def test_a_refused_form_never_shows_the_pin_typed_nor_logs_it(
    register: Callable[..., User], bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    right, wrong = "739154", "862057"
    client = signed_in(register("payer", pin=right, balance="50.00"))
    with caplog.at_level(logging.DEBUG):
        refused_pin = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5"}, pin=wrong)
        refused_funds = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5000"}, pin=right)
        confirm = submit(client, "/pay-mobile/", {"mobile_number": "+919812345678", "amount": "5"}, pin=wrong)

    for response, typed in ((refused_pin, wrong), (refused_funds, right), (confirm, wrong)):
        assert response.status_code == 400
        html = html_without_tokens(response)
        assert typed not in html
        assert "value=" not in pin_input(html)
    assert "recorded as failed transaction" in refused_funds.content.decode()
    assert not mentions(caplog.text, right) and not mentions(caplog.text, wrong)


def test_the_page_token_record_fingerprints_the_form_without_its_pin(alice: User, bob: User) -> None:
    assert submit(signed_in(alice), "/transfer/", {"to_user_id": str(bob.pk), "amount": "5"}).status_code == 302
    record = IdempotencyKey.objects.get()
    assert record.fingerprint == body_fingerprint(
        endpoint="page:transfer", body={"to_user_id": str(bob.pk), "amount": "5", "note": ""}
    )


# --- Pay-by-mobile: confirm the payee, then the PIN -------------------------------------------


def test_pay_by_mobile_shows_whose_number_it_is_and_the_amount_before_it_asks_for_the_pin(
    alice: User, register: Callable[..., User]
) -> None:
    register("bo", mobile="+919800000801", first_name="Bobby", last_name="Kumar")
    client = signed_in(alice)
    first = client.get("/pay-mobile/").content.decode()
    assert 'name="pin"' not in first and 'name="form_token"' not in first  # nothing can be paid from step one

    review = client.post("/pay-mobile/", {"step": "review", "mobile_number": "98000 00801", "amount": "12.5"})

    page = review.content.decode()
    assert review.status_code == 200
    assert '<strong id="payee-name">Bo*** K****</strong>' in page
    assert '<strong id="payment-amount">INR 12.50</strong>' in page
    assert pin_input(page) and form_token(page)
    assert Transaction.objects.count() == 1  # alice's top-up: the review moved nothing

    paid = client.post(
        "/pay-mobile/", {"mobile_number": "98000 00801", "amount": "12.50", "pin": PIN, "form_token": form_token(page)}
    )
    assert (paid.status_code, paid.url) == (302, "/dashboard/")
    assert balance_of(alice) == Decimal("987.50")


def test_the_review_refuses_an_unknown_number_or_yourself_before_any_pin(alice: User) -> None:
    client = signed_in(alice)
    unknown = client.post("/pay-mobile/", {"step": "review", "mobile_number": "+919800000900", "amount": "5"})
    yourself = client.post("/pay-mobile/", {"step": "review", "mobile_number": "+919876543210", "amount": "5"})
    bad_amount = client.post("/pay-mobile/", {"step": "review", "mobile_number": "+919876543210", "amount": "x"})
    for response, message in (
        (unknown, "No registered user has that mobile number."),
        (yourself, "You cannot send money to yourself."),
        (bad_amount, "Enter an amount such as"),
    ):
        assert response.status_code == 400 and message in response.content.decode()
        assert 'name="pin"' not in response.content.decode()


def test_a_wrong_pin_on_the_confirmation_shows_the_payee_again_with_a_new_token(alice: User, bob: User) -> None:
    client = signed_in(alice)
    review = client.post("/pay-mobile/", {"step": "review", "mobile_number": "+919812345678", "amount": "5"})
    token = form_token(review.content.decode())
    fields = {"mobile_number": "+919812345678", "amount": "5.00", "form_token": token}

    wrong = client.post("/pay-mobile/", {**fields, "pin": WRONG})

    page = wrong.content.decode()
    assert wrong.status_code == 400 and "That PIN is not right." in page
    assert '<strong id="payee-name">bo*</strong>' in page and form_token(page) != token
    again = client.post("/pay-mobile/", {**fields, "pin": PIN, "form_token": form_token(page)})
    assert again.status_code == 302 and balance_of(bob) == Decimal("5.00")


# --- /pin/ and /name/ -------------------------------------------------------------------------


def test_the_dashboard_says_when_no_pin_is_set_and_links_to_the_pin_page(register: Callable[..., User]) -> None:
    nia = register("nia", pin=None)
    client = signed_in(nia)
    assert 'id="pin-notice"' in client.get("/dashboard/").content.decode()
    assert 'id="pin-notice"' in client.get("/transfer/").content.decode()
    pins.pin_set(user=nia, pin=PIN)
    dashboard = client.get("/dashboard/").content.decode()
    assert 'id="pin-notice"' not in dashboard and "Change your PIN" in dashboard


def test_the_pin_page_sets_the_first_pin_refusing_weak_or_mismatched_ones(register: Callable[..., User]) -> None:
    client = signed_in(nia := register("nia", pin=None))
    page = client.get("/pin/").content.decode()
    assert 'name="current_pin"' not in page and 'name="code"' not in page  # the first PIN needs no proof

    weak = client.post("/pin/", {"action": "set", "pin": "1234", "pin_confirm": "1234"})
    mismatched = client.post("/pin/", {"action": "set", "pin": "4826", "pin_confirm": "4862"})
    assert weak.status_code == 400 and "too easy to guess" in weak.content.decode()
    assert mismatched.status_code == 400 and "The two PINs differ." in mismatched.content.decode()
    assert not PaymentPin.objects.filter(user_id=nia.pk).exists()
    assert "4826" not in html_without_tokens(mismatched)

    done = client.post("/pin/", {"action": "set", "pin": "4826", "pin_confirm": "4826"}, follow=True)
    assert done.redirect_chain[-1] == ("/dashboard/", 302)
    assert "Your payment PIN is set." in done.content.decode()
    assert pins.pin_try(user_id=nia.pk, pin="4826").outcome is pins.PinOutcome.RIGHT


def test_the_pin_page_changes_the_pin_with_the_current_one_or_a_code(alice: User) -> None:
    client = signed_in(alice)
    no_proof = client.post("/pin/", {"action": "set", "pin": "5937", "pin_confirm": "5937"})
    wrong = client.post("/pin/", {"action": "set", "current_pin": WRONG, "pin": "5937", "pin_confirm": "5937"})
    assert no_proof.status_code == 400 and "give your current PIN, or a code" in no_proof.content.decode()
    assert wrong.status_code == 400 and "That PIN is not right." in wrong.content.decode()

    changed = client.post("/pin/", {"action": "set", "current_pin": PIN, "pin": "5937", "pin_confirm": "5937"})
    assert (changed.status_code, changed.url) == (302, "/dashboard/")

    sent = client.post("/pin/", {"action": "code"}, follow=True)
    assert "We sent a code to +919876543210" in sent.content.decode()
    by_code = {"action": "set", "code": last_code("+919876543210"), "pin": "2468", "pin_confirm": "2468"}
    assert client.post("/pin/", by_code).status_code == 302
    assert pins.pin_try(user_id=alice.pk, pin="2468").outcome is pins.PinOutcome.RIGHT


def test_the_name_page_sets_what_payers_see(alice: User, bob: User) -> None:
    client = signed_in(alice)
    assert '<strong id="masked-name">al***</strong>' in client.get("/name/").content.decode()
    saved = client.post("/name/", {"first_name": "Asha", "last_name": "Rao"}, follow=True)
    assert "People who pay you see: As** R**" in saved.content.decode()
    review = signed_in(bob).post("/pay-mobile/", {"step": "review", "mobile_number": "+919876543210", "amount": "1"})
    assert '<strong id="payee-name">As** R**</strong>' in review.content.decode()
