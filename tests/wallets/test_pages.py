"""The pages, through Django's test client, as a person would use them."""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from ledger.models import Transaction
from tests.conftest import PASSWORD, PIN, balance_of
from tests.support.forms import form_token, submit
from tests.support.sms import last_code
from wallets.models import User


def sign_up(client: Client, username: str, mobile: str) -> User:
    response = client.post(
        "/",
        {
            "action": "register",
            "register-username": username,
            "register-mobile_number": mobile,
            "register-password": PASSWORD,
            "register-password_confirm": PASSWORD,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response.url == "/verify-mobile/"  # the person lands on the page that asks for the code
    user = User.objects.get(username=username)
    code = last_code(user.profile.mobile_number or "")
    verified = client.post("/verify-mobile/", {"action": "verify", "code": code})
    assert (verified.status_code, verified.url) == (302, "/dashboard/")
    return user


def test_full_flow_register_top_up_pay_by_id_and_by_mobile_see_history(db: None) -> None:
    alice_client, bob_client = Client(), Client()
    alice = sign_up(alice_client, "alice", "98765 43210")
    bob = sign_up(bob_client, "bob", "+91 98123 45678")

    assert submit(alice_client, "/add-money/", {"amount": "500.00"}).status_code == 302
    set_pin = alice_client.post("/pin/", {"action": "set", "pin": PIN, "pin_confirm": PIN})
    assert (set_pin.status_code, set_pin.url) == (302, "/dashboard/")
    assert submit(alice_client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "120.50"}).status_code == 302
    assert submit(alice_client, "/pay-mobile/", {"mobile_number": "98123 45678", "amount": "9.50"}).status_code == 302

    assert balance_of(alice) == Decimal("370.00")
    assert balance_of(bob) == Decimal("130.00")
    dashboard = bob_client.get("/dashboard/").content.decode()
    assert "INR 130.00" in dashboard
    assert "From alice" in dashboard
    history = alice_client.get("/transactions/").content.decode()
    assert history.index("To bob") < history.index("Added money")  # newest first
    assert "INR 120.50" in history and "INR 9.50" in history


def test_a_refused_payment_shows_the_error_next_to_the_field_and_changes_nothing(
    client: Client, alice: User, bob: User
) -> None:
    client.force_login(alice)
    before = list(Transaction.objects.values_list("id", flat=True))

    bad_amount = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "NaN"})
    unknown = submit(client, "/pay-mobile/", {"mobile_number": "+919000000000", "amount": "5"})
    yourself = submit(client, "/transfer/", {"to_user_id": str(alice.pk), "amount": "5"})
    overlong = submit(client, "/add-money/", {"amount": "9" * 40})

    assert bad_amount.status_code == 400 and "Enter an amount such as" in bad_amount.content.decode()
    assert "No registered user has that mobile number." in unknown.content.decode()
    assert "You cannot send money to yourself." in yourself.content.decode()
    assert overlong.status_code == 400
    assert bad_amount.context["form"].errors["amount"]
    assert unknown.context["form"].errors["mobile_number"]
    assert yourself.context["form"].errors["to_user_id"]
    assert list(Transaction.objects.values_list("id", flat=True)) == before
    assert balance_of(alice) == Decimal("1000.00")


def test_insufficient_funds_names_the_recorded_failed_attempt(client: Client, alice: User, bob: User) -> None:
    client.force_login(alice)
    response = submit(client, "/transfer/", {"to_user_id": str(bob.pk), "amount": "5000"})
    failed = Transaction.objects.get(status="FAILED")
    assert f"recorded as failed transaction #{failed.pk}" in response.content.decode()


def test_registration_errors_are_shown_next_to_their_fields(client: Client, alice: User) -> None:
    response = client.post(
        "/",
        {
            "action": "register",
            "register-username": "ALICE",
            "register-mobile_number": "12",
            "register-password": "short",
            "register-password_confirm": "other",
        },
    )
    assert response.status_code == 400
    errors = response.context["register_form"].errors
    assert "password_confirm" in errors
    response = client.post(
        "/",
        {
            "action": "register",
            "register-username": "ALICE",
            "register-mobile_number": "98765 00000",
            "register-password": PASSWORD,
            "register-password_confirm": PASSWORD,
        },
    )
    assert "That username is taken." in response.content.decode()
    assert User.objects.count() == 1


def test_login_and_wrong_password(client: Client, alice: User) -> None:
    bad = client.post("/", {"action": "login", "login-username": "alice", "login-password": "nope"})
    assert bad.status_code == 400
    good = client.post("/", {"action": "login", "login-username": "alice", "login-password": PASSWORD})
    assert good.status_code == 302 and good.url == "/dashboard/"


@pytest.mark.parametrize("path", ["/dashboard/", "/add-money/", "/transfer/", "/pay-mobile/", "/transactions/"])
def test_wallet_pages_require_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.url.startswith("/?next=")


def test_money_moves_need_a_logged_in_user_even_by_post(client: Client, alice: User, bob: User) -> None:
    response = client.post("/transfer/", {"to_user_id": str(bob.pk), "amount": "5"})
    assert response.status_code == 302
    assert balance_of(bob) == 0


def test_logout_is_post_only(client: Client, alice: User) -> None:
    client.force_login(alice)
    assert client.get("/logout/").status_code == 405
    assert client.get("/dashboard/").status_code == 200
    assert client.post("/logout/").status_code == 302
    assert client.get("/dashboard/").status_code == 302


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/add-money/", {"amount": "5"}),
        ("/transfer/", {"to_user_id": "2", "amount": "5"}),
        ("/pay-mobile/", {"mobile_number": "+919812345678", "amount": "5"}),
        ("/logout/", {}),
        ("/", {"action": "login", "login-username": "alice", "login-password": PASSWORD}),
    ],
)
def test_csrf_is_enforced_on_every_state_changing_page(alice: User, bob: User, path: str, data: dict[str, str]) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.post(path, data).status_code == 403
    assert balance_of(bob) == 0
    assert Transaction.objects.count() == 1  # alice's top-up only


def _history_page(client: Client, query: str) -> tuple[list[int], str | None, str | None]:
    """The entry ids a history page shows, and its "Newer" and "Older" links' queries."""
    response = client.get(f"/transactions/{query}")
    assert response.status_code == 200
    html = response.content.decode()
    newer = re.search(r'href="(\?after=\d+)" rel="prev"', html)
    older = re.search(r'href="(\?before=\d+)" rel="next"', html)
    return (
        [entry.pk for entry in response.context["entries"]],
        newer.group(1) if newer else None,
        older.group(1) if older else None,
    )


def test_history_pages_by_keyset_through_every_entry_and_back(client: Client, alice: User, bob: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_HISTORY_PAGE_SIZE = 2
    from wallets import services

    for _ in range(4):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1")
    client.force_login(alice)
    everything = list(Transaction.objects.order_by("-id").values_list("id", flat=True))  # 5: top-up + 4

    seen, pages, query = [], [], ""
    while query is not None:
        ids, _, query = _history_page(client, query)
        seen += ids
        pages.append(ids)
    assert seen == everything
    assert [len(p) for p in pages] == [2, 2, 1]

    ids, newer, older = _history_page(client, f"?before={pages[-1][0] + 1}")
    assert (ids, older) == (pages[-1], None)
    back = []
    while newer is not None:
        ids, newer, _ = _history_page(client, newer)
        back.append(ids)
    assert back == pages[-2::-1]  # the same pages, newest last
    assert _history_page(client, "?before=abc")[0] == pages[0]  # nonsense bounds are ignored
    assert _history_page(client, "?page=999")[0] == pages[0]


def test_pages_never_show_another_users_wallet(
    client: Client, alice: User, bob: User, register: Callable[..., User]
) -> None:
    carol = register("carol", balance="77.00")
    client.force_login(bob)
    assert "77.00" not in client.get("/dashboard/").content.decode()
    assert "carol" not in client.get("/transactions/").content.decode()
    assert carol.pk


@pytest.mark.parametrize("debug", [True, False])
def test_a_post_missing_its_trailing_slash_is_redirected_keeping_the_method(
    client: Client, alice: User, bob: User, settings, debug: bool
) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    client.force_login(alice)
    data = {
        "to_user_id": str(bob.pk),
        "amount": "5",
        "pin": PIN,
        "form_token": form_token(client.get("/transfer/").content.decode()),
    }
    response = client.post("/transfer", data)
    assert (response.status_code, response.url) == (308, "/transfer/")
    assert client.get("/dashboard").status_code == 301
    followed = client.post("/transfer", data, follow=True)
    assert followed.redirect_chain[0] == ("/transfer/", 308)
    assert balance_of(bob) == Decimal("5.00")
