"""Sessions and authorization: what ASVS V7 and V8 ask of the pages and admin."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client

from tests.conftest import PASSWORD
from wallets import services
from wallets.models import User


def sign_in(client: Client, username: str) -> None:
    response = client.post("/", {"action": "login", "login-username": username, "login-password": PASSWORD})
    assert response.status_code == 302


def test_the_session_id_changes_when_a_person_signs_in(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    session = client.session  # an anonymous visitor's session, e.g. one an attacker planted
    session["visited"] = True
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = before = session.session_key
    sign_in(client, "alice")
    after = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert before and after and before != after


def test_signing_out_ends_the_session_on_the_server(client: Client, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    sign_in(client, "alice")
    stolen = client.cookies[settings.SESSION_COOKIE_NAME].value
    client.post("/logout/")
    replay = Client()
    replay.cookies[settings.SESSION_COOKIE_NAME] = stolen
    assert replay.get("/dashboard/").status_code == 302  # the old cookie no longer signs anyone in


def test_sessions_expire(settings) -> None:  # type: ignore[no-untyped-def]
    assert 0 < settings.SESSION_COOKIE_AGE <= 60 * 60 * 12


def test_admin_is_closed_to_people_who_are_not_staff(client: Client, alice: User) -> None:
    client.force_login(alice)
    for path in ["/admin/", "/admin/ledger/transaction/", "/admin/wallets/wallet/"]:
        response = client.get(path)
        assert response.status_code == 302 and "/admin/login/" in response.url


def test_no_page_or_api_call_shows_another_users_transactions(
    client: Client, alice: User, bob: User, register: Callable[..., User]
) -> None:
    carol = register("carol", balance="500.00")
    private = services.transfer_create(sender=carol, to_user_id=bob.pk, amount="123.45")
    client.force_login(alice)
    for path in ["/dashboard/", "/transactions/", "/api/v1/transactions/", "/api/v1/wallet/"]:
        body = client.get(path).content.decode()
        assert "123.45" not in body and "carol" not in body, path
    assert client.get(f"/api/v1/transactions/{private.pk}/").status_code == 404
