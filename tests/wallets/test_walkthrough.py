"""A new user, start to finish: sign up, prove the number, set a PIN, pay by mobile after seeing the payee's
name, and both phones get the alerts. Once on the pages, once on the API, as the README walks it.

The alerts leave through the outbox: the test runs the task worker (``work_off``) as ``make run`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from tests.conftest import balance_of
from tests.jobs.support import work_off
from tests.support.forms import form_token
from tests.support.sms import last_code, messages_to
from wallets.models import User

pytestmark = pytest.mark.django_db(transaction=True)

NIA = "+919800000551"
BOB = "+919812345678"
PASSWORD = "a long walk to the shop"
PIN = "4826"


def test_a_new_user_signs_up_verifies_sets_a_pin_and_pays_by_mobile_on_the_pages(register: Callable[..., User]) -> None:
    bob = register("bob", mobile=BOB, first_name="Bobby", last_name="Kumar")
    browser = Client()

    signed_up = browser.post(
        "/",
        {
            "action": "register",
            "register-username": "nia",
            "register-first_name": "Nia",
            "register-last_name": "Shah",
            "register-mobile_number": "98000 00551",
            "register-password": PASSWORD,
            "register-password_confirm": PASSWORD,
        },
        follow=True,
    )
    assert signed_up.redirect_chain == [("/verify-mobile/", 302)]
    assert "We sent a code to +919800000551" in signed_up.content.decode()
    dashboard = browser.get("/dashboard/").content.decode()
    assert 'id="verify-notice"' in dashboard and 'id="pin-notice"' in dashboard  # what is missing, said

    verified = browser.post("/verify-mobile/", {"action": "verify", "code": last_code(NIA)}, follow=True)
    assert verified.redirect_chain[-1] == ("/dashboard/", 302)
    assert 'id="verify-notice"' not in verified.content.decode()

    pin_set = browser.post("/pin/", {"action": "set", "pin": PIN, "pin_confirm": PIN}, follow=True)
    assert "Your payment PIN is set." in pin_set.content.decode()

    add_money = browser.get("/add-money/").content.decode()
    assert browser.post("/add-money/", {"amount": "500", "form_token": form_token(add_money)}).status_code == 302

    review = browser.post("/pay-mobile/", {"step": "review", "mobile_number": "98123 45678", "amount": "120"})
    page = review.content.decode()
    assert '<strong id="payee-name">Bo*** K****</strong>' in page  # the payee's name, before the PIN
    paid = browser.post(
        "/pay-mobile/", {"mobile_number": BOB, "amount": "120.00", "pin": PIN, "form_token": form_token(page)}
    )
    assert (paid.status_code, paid.url) == (302, "/dashboard/")

    nia = User.objects.get(username="nia")
    assert (balance_of(nia), balance_of(bob)) == (Decimal("380.00"), Decimal("120.00"))
    work_off()  # the task worker delivers the alerts written with the payment
    assert "Paid INR 120.00 to Bo*** K****. Balance INR 380.00." in messages_to(NIA)
    assert "Received INR 120.00 from Ni* S***. Balance INR 120.00." in messages_to(BOB)
    assert any("PIN was set" in body for body in messages_to(NIA))


def api(client: Client, method: str, path: str, body: dict[str, Any] | None = None, token: str = "") -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return getattr(client, method)(f"/api/v1{path}", body, content_type="application/json", **headers)


def test_a_new_user_signs_up_verifies_sets_a_pin_and_pays_by_mobile_on_the_api(register: Callable[..., User]) -> None:
    register("bob", mobile=BOB, first_name="Bobby", last_name="Kumar")
    client = Client()

    signed_up = api(
        client,
        "post",
        "/auth/register/",
        {"username": "nia", "password": PASSWORD, "mobile_number": NIA, "first_name": "Nia", "last_name": "Shah"},
    )
    assert signed_up.status_code == 201 and signed_up.json()["mobile_verified"] is False
    token = api(client, "post", "/auth/token/", {"username": "nia", "password": PASSWORD}).json()["token"]
    refused = api(client, "post", "/wallet/top-ups/", {"amount": "500"}, token)
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "mobile_not_verified")

    verified = api(client, "post", "/auth/mobile/verify/", {"code": last_code(NIA)}, token)
    assert verified.json() == {"mobile_verified": True}
    assert api(client, "put", "/auth/pin/", {"pin": PIN}, token).status_code == 200
    assert api(client, "post", "/wallet/top-ups/", {"amount": "500"}, token).status_code == 201

    payee = api(client, "get", f"/recipients/?mobile={BOB.replace('+', '%2B')}", token=token)
    assert payee.json()["display_name"] == "Bo*** K****"
    no_pin = api(client, "post", "/transfers/", {"to_mobile": BOB, "amount": "120.00"}, token)
    assert (no_pin.status_code, no_pin.json()["error"]["code"]) == (400, "pin_required")
    paid = api(client, "post", "/transfers/", {"to_mobile": BOB, "amount": "120.00", "pin": PIN}, token)
    assert paid.status_code == 201, paid.json()

    work_off()
    assert "Paid INR 120.00 to Bo*** K****. Balance INR 380.00." in messages_to(NIA)
    assert "Received INR 120.00 from Ni* S***. Balance INR 120.00." in messages_to(BOB)
