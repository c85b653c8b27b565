"""The page forms get the API's protections: one-time form tokens and the shared rate limits."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client

from ledger.models import Transaction
from tests.conftest import PASSWORD, PIN, balance_of
from tests.support.forms import asks_for_pin, form_page, form_token, submit
from wallets import ratelimit
from wallets.accounts.tokens import token_issue
from wallets.models import IdempotencyKey, User


@pytest.fixture(autouse=True)
def _fresh_limits() -> Iterator[None]:
    cache.clear()
    ratelimit.local_counters_clear()
    yield
    cache.clear()
    ratelimit.local_counters_clear()


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- One-time form tokens ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/add-money/", {"amount": "25.00"}),
        ("/transfer/", {"to_user_id": "{bob}", "amount": "25.00"}),
        ("/pay-mobile/", {"mobile_number": "+919812345678", "amount": "25.00"}),
    ],
)
def test_the_same_form_posted_twice_moves_money_once_and_the_second_answer_shows_the_first_outcome(
    alice: User, bob: User, path: str, data: dict[str, str]
) -> None:
    client = signed_in(alice)
    fields = {k: v.format(bob=bob.pk) for k, v in data.items()}
    page = form_page(client, path, fields).content.decode()
    fields["form_token"] = form_token(page)
    if asks_for_pin(page):
        fields["pin"] = PIN

    first = client.post(path, fields, follow=True)
    second = client.post(path, fields, follow=True)

    assert Transaction.objects.count() == 2  # alice's top-up from the fixture, then this one
    assert first.redirect_chain[-1] == ("/dashboard/", 302)
    assert second.redirect_chain[-1] == ("/dashboard/", 302)
    first_message = next(str(m) for m in first.context["messages"])
    second_message = next(str(m) for m in second.context["messages"])
    assert "already sent; nothing more was done" in second_message
    assert first_message in second_message


def test_a_refusal_recorded_in_the_ledger_is_shown_again_for_the_same_form_not_repeated(alice: User, bob: User) -> None:
    client = signed_in(alice)
    fields = {
        "to_user_id": str(bob.pk),
        "amount": "5000",
        "pin": PIN,
        "form_token": form_token(client.get("/transfer/").content.decode()),
    }

    first = client.post("/transfer/", fields)
    second = client.post("/transfer/", fields)

    failed = Transaction.objects.get(status="FAILED")
    for response in (first, second):
        assert response.status_code == 400
        assert f"recorded as failed transaction #{failed.pk}" in response.content.decode()
    assert Transaction.objects.filter(status="FAILED").count() == 1


def test_a_refused_form_comes_back_with_a_new_token_so_a_corrected_submission_goes_through(
    alice: User, bob: User
) -> None:
    client = signed_in(alice)
    refused = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5000"})
    assert refused.status_code == 400
    corrected = {
        "to_user_id": str(bob.pk),
        "amount": "50",
        "pin": PIN,
        "form_token": form_token(refused.content.decode()),
    }
    assert client.post("/transfer/", corrected).status_code == 302
    assert balance_of(bob) == Decimal("50.00")


def test_a_token_sent_again_with_other_values_is_refused_and_moves_nothing(alice: User, bob: User) -> None:
    client = signed_in(alice)
    token = form_token(client.get("/transfer/").content.decode())
    paid = client.post("/transfer/", {"to_user_id": str(bob.pk), "amount": "10", "pin": PIN, "form_token": token})
    assert paid.status_code == 302

    edited = client.post("/transfer/", {"to_user_id": str(bob.pk), "amount": "99", "pin": PIN, "form_token": token})

    assert edited.status_code == 400
    assert "already used with a different request" in edited.content.decode()
    assert balance_of(bob) == Decimal("10.00")
    assert form_token(edited.content.decode()) != token  # a fresh form to send the new amount with


@pytest.mark.parametrize("token", [None, "", "made-up", "x" * 500])
def test_a_form_without_a_token_this_site_issued_is_refused_and_moves_nothing(
    alice: User, bob: User, token: str | None
) -> None:
    client = signed_in(alice)
    fields = {"to_user_id": str(bob.pk), "amount": "10", "pin": PIN}
    if token is not None:
        fields["form_token"] = token
    response = client.post("/transfer/", fields)
    assert response.status_code == 400
    assert "This form has expired" in response.content.decode()
    assert balance_of(bob) == 0
    assert not IdempotencyKey.objects.exists()


def test_an_expired_token_is_refused(alice: User, bob: User, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    client = signed_in(alice)
    token = form_token(client.get("/transfer/").content.decode())
    settings.PAYLANE_IDEMPOTENCY_KEEP_HOURS = 24
    monkeypatch.setattr("django.core.signing.time.time", lambda: 10**10)
    response = client.post("/transfer/", {"to_user_id": str(bob.pk), "amount": "10", "pin": PIN, "form_token": token})
    assert response.status_code == 400
    assert balance_of(bob) == 0


def test_one_users_token_does_not_replay_for_another(alice: User, bob: User, register: Callable[..., User]) -> None:
    carol = register("carol", balance="100.00")
    token = form_token(signed_in(alice).get("/add-money/").content.decode())
    assert signed_in(alice).post("/add-money/", {"amount": "1", "form_token": token}).status_code == 302
    assert signed_in(carol).post("/add-money/", {"amount": "1", "form_token": token}).status_code == 302
    assert balance_of(carol) == Decimal("101.00")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_double_click_racing_on_two_connections_pays_once(alice: User, bob: User) -> None:
    client = signed_in(alice)
    fields = {
        "to_user_id": str(bob.pk),
        "amount": "7.00",
        "pin": PIN,
        "form_token": form_token(client.get("/transfer/").content.decode()),
    }
    cookies = client.cookies
    start = threading.Barrier(4)
    statuses: list[int] = []

    def click() -> None:
        browser = Client()
        browser.cookies = cookies
        try:
            start.wait()
            statuses.append(browser.post("/transfer/", fields).status_code)
        finally:
            connection.close()

    clicks = [threading.Thread(target=click) for _ in range(4)]
    for thread in clicks:
        thread.start()
    for thread in clicks:
        thread.join()

    assert statuses == [302] * 4
    assert balance_of(bob) == Decimal("7.00")
    assert Transaction.objects.filter(transaction_type="TRANSFER").count() == 1


# --- The API's rate limits on the pages ---------------------------------------------------


def test_the_money_forms_share_the_apis_per_user_limit_and_answer_429_with_the_form(
    alice: User, bob: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_TRANSFER_RATE = "3/m"
    client = signed_in(alice)
    api = Client(headers={"Authorization": f"Bearer {_token(alice)}"})
    assert api.post("/api/v1/wallet/top-ups/", {"amount": "1"}, content_type="application/json").status_code == 201
    assert submit(client, "/add-money/", {"amount": "1"}).status_code == 302
    assert submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "1"}).status_code == 302

    over = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "1"})

    assert over.status_code == 429
    assert int(over["Retry-After"]) >= 1
    page = over.content.decode()
    assert "Too many attempts" in page and 'name="amount"' in page
    assert api.post("/api/v1/wallet/top-ups/", {"amount": "1"}, content_type="application/json").status_code == 429
    assert balance_of(bob) == Decimal("1.00")


def _token(user: User) -> str:
    return token_issue(user=user)


def _sign_up(client: Client, n: int, **extra: str) -> int:
    return client.post(
        "/",
        {
            "action": "register",
            "register-username": f"new{n}",
            "register-mobile_number": f"+9190000{n:05d}",
            "register-password": PASSWORD,
            "register-password_confirm": PASSWORD,
        },
        **extra,
    ).status_code


def test_sign_up_on_the_page_and_the_api_share_one_limit_per_address(db: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REGISTER_RATE = "2/h"
    api_body = {"username": "api1", "password": PASSWORD, "mobile_number": "+919000011111"}
    assert Client().post("/api/v1/auth/register/", api_body, content_type="application/json").status_code == 201
    assert _sign_up(Client(), 1) == 302

    over = Client().post(
        "/",
        {
            "action": "register",
            "register-username": "new2",
            "register-mobile_number": "+919000000002",
            "register-password": PASSWORD,
            "register-password_confirm": PASSWORD,
        },
    )
    assert over.status_code == 429
    assert "Too many attempts" in over.content.decode()
    assert not User.objects.filter(username="new2").exists()
    assert _sign_up(Client(REMOTE_ADDR="10.1.1.1"), 3) == 302  # another address has its own count


def test_sign_in_on_the_page_and_the_api_share_one_limit_per_address(alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_SIGNIN_RATE = "2/m"
    body = {"username": "alice", "password": PASSWORD}
    assert Client().post("/api/v1/auth/token/", body, content_type="application/json").status_code == 200
    page = {"action": "login", "login-username": "alice", "login-password": PASSWORD}
    assert Client().post("/", page).status_code == 302

    over_page = Client().post("/", page)
    over_api = Client().post("/api/v1/auth/token/", body, content_type="application/json")

    assert over_page.status_code == 429 and "Too many attempts" in over_page.content.decode()
    assert over_api.status_code == 429 and over_api.json()["error"]["code"] == "rate_limited"
    assert "_auth_user_id" not in over_page.wsgi_request.session
    assert Client(REMOTE_ADDR="10.1.1.2").post("/", page).status_code == 302


# --- Looking up numbers that have no account ------------------------------------------------


def test_paying_numbers_without_an_account_is_limited_per_user_on_pages_and_api_alike(
    alice: User, bob: User, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_RECIPIENT_LOOKUP_RATE = "3/h"
    client = signed_in(alice)
    api = Client(headers={"Authorization": f"Bearer {_token(alice)}"})
    transfers = "/api/v1/transfers/"

    def api_pay(mobile: str) -> tuple[int, str]:
        response = api.post(
            transfers, {"to_mobile": mobile, "amount": "1", "pin": PIN}, content_type="application/json"
        )
        return response.status_code, response.json().get("error", {}).get("code", "")

    # Numbers that have an account do not count, however many.
    for _ in range(5):
        assert api_pay("+919812345678")[0] == 201
    assert submit(client, "/pay-mobile/", {"mobile_number": "+919000000101", "amount": "1"}).status_code == 400
    assert api_pay("+919000000102") == (422, "recipient_not_found")
    assert api_pay("+919000000103") == (422, "recipient_not_found")

    # Over the limit: every payment by number is refused before the lookup, registered or not.
    assert api_pay("+919000000104") == (429, "rate_limited")
    assert api_pay("+919812345678") == (429, "rate_limited")
    page = submit(client, "/pay-mobile/", {"mobile_number": "+919812345678", "amount": "1"})
    assert page.status_code == 429
    assert "numbers that have no account" in page.content.decode()
    # Paying by user id is not a lookup of numbers.
    by_id = {"to_user_id": bob.pk, "amount": "1", "pin": PIN}
    assert api.post(transfers, by_id, content_type="application/json").status_code == 201
    assert balance_of(bob) == Decimal("6.00")


def test_the_lookup_limit_is_per_user(alice: User, bob: User, register: Callable[..., User], settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_RECIPIENT_LOOKUP_RATE = "1/h"
    carol = register("carol", balance="10.00")
    assert (
        submit(signed_in(alice), "/pay-mobile/", {"mobile_number": "+919000000201", "amount": "1"}).status_code == 400
    )
    assert (
        submit(signed_in(alice), "/pay-mobile/", {"mobile_number": "+919812345678", "amount": "1"}).status_code == 429
    )
    assert (
        submit(signed_in(carol), "/pay-mobile/", {"mobile_number": "+919812345678", "amount": "1"}).status_code == 302
    )


# --- The client address -----------------------------------------------------------------------


def test_without_a_proxy_forwarded_headers_are_ignored_so_they_cannot_dodge_a_limit(db: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REGISTER_RATE = "1/h"
    settings.PAYLANE_PROXY_COUNT = 0
    assert _sign_up(Client(), 1, HTTP_X_FORWARDED_FOR="203.0.113.1") == 302
    assert _sign_up(Client(), 2, HTTP_X_FORWARDED_FOR="203.0.113.2") == 429


def test_behind_a_proxy_each_client_has_its_own_count_and_cannot_forge_another(db: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REGISTER_RATE = "1/h"
    settings.PAYLANE_PROXY_COUNT = 1
    # The proxy (REMOTE_ADDR 127.0.0.1) appends the address it saw: the right-most entry.
    assert _sign_up(Client(), 1, HTTP_X_FORWARDED_FOR="203.0.113.1") == 302
    assert _sign_up(Client(), 2, HTTP_X_FORWARDED_FOR="203.0.113.2") == 302
    # A client that writes its own header still ends up as the address the proxy appended.
    assert _sign_up(Client(), 3, HTTP_X_FORWARDED_FOR="198.51.100.7, 203.0.113.1") == 429
