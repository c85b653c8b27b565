"""The password pages: change (signed in), reset with a code (linked from the sign-in page)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from knox.models import AuthToken

from tests.conftest import PASSWORD
from tests.jobs.support import work_off
from tests.support.sms import last_code, messages_to
from wallets.accounts.tokens import token_issue
from wallets.models import User

NEW = "an entirely new passphrase"
ALICE = "+919876543210"


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change(client: Client, current: str, new: str = NEW, again: str | None = None) -> Any:
    return client.post(
        "/password/", {"current_password": current, "new_password": new, "new_password_confirm": again or new}
    )


def sign_in(client: Client, password: str) -> int:
    response = client.post("/", {"action": "login", "login-username": "alice", "login-password": password})
    return int(response.status_code)


def test_the_password_page_needs_a_signed_in_person_and_is_linked_from_every_page(alice: User) -> None:
    assert Client().get("/password/").status_code == 302
    client = signed_in(alice)
    assert 'href="/password/"' in client.get("/dashboard/").content.decode()
    assert client.get("/password/").status_code == 200


@pytest.mark.django_db(transaction=True)  # the worker commits as it goes
def test_changing_the_password_keeps_this_session_and_ends_every_other_and_every_token(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    this, other = signed_in(alice), signed_in(alice)
    token = token_issue(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = change(this, PASSWORD)
    assert (response.status_code, response.url) == (302, "/dashboard/")
    assert "Your password is changed" in this.get("/dashboard/").content.decode()
    assert other.get("/dashboard/").status_code == 302  # sent to sign in
    assert not AuthToken.objects.filter(user=alice).exists() and token
    assert sign_in(Client(), NEW) == 302
    work_off()  # the alert was queued with the change (the outbox); the worker sends it
    assert any("password was changed" in body for body in messages_to(ALICE))


@pytest.mark.parametrize(
    ("current", "new", "again", "says"),
    [
        ("not my password", NEW, NEW, "That is not your current password."),
        (PASSWORD, NEW, NEW + "!", "The two passwords differ."),
        (PASSWORD, "password123", "password123", "This password is too common."),
    ],
    ids=["wrong-current", "differ", "weak"],
)
def test_a_refused_change_says_why_beside_its_field_and_never_shows_a_password_again(
    alice: User, current: str, new: str, again: str, says: str
) -> None:
    client = signed_in(alice)
    response = change(client, current, new, again)
    page = response.content.decode()
    assert response.status_code == 400
    assert says in page
    for typed in {current, new, again}:
        assert f'value="{typed}"' not in page
    assert sign_in(Client(), PASSWORD) == 302


def test_five_wrong_current_passwords_lock_the_page_and_sign_in_out(alice: User) -> None:
    client = signed_in(alice)
    assert [change(client, "wrong").status_code for _ in range(5)] == [400] * 4 + [429]
    locked = change(client, PASSWORD)
    assert locked.status_code == 429 and int(locked["Retry-After"]) == 15 * 60
    assert "Too many failed sign-in attempts" in locked.content.decode()
    assert 'name="current_password"' in locked.content.decode()  # the password page, not the sign-in page
    assert sign_in(Client(), PASSWORD) == 429


@pytest.mark.django_db(transaction=True)
def test_a_forgotten_password_is_reset_from_the_sign_in_page_with_the_code(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    client = Client()
    home = client.get("/").content.decode()
    assert 'href="/password/reset/"' in home and "Forgot your password?" in home
    asked = client.post("/password/reset/", {"mobile_number": "98765 43210"})
    assert (asked.status_code, asked.url) == (302, "/password/reset/confirm/")
    form = client.get("/password/reset/confirm/").content.decode()
    assert "If an account verified that number, we sent it a code" in form
    assert 'value="98765 43210"' in form  # the number, offered again
    with django_capture_on_commit_callbacks(execute=True):
        done = client.post(
            "/password/reset/confirm/",
            {
                "mobile_number": "98765 43210",
                "code": last_code(ALICE),
                "new_password": NEW,
                "new_password_confirm": NEW,
            },
        )
    assert (done.status_code, done.url) == (302, "/")
    assert "Your password is reset" in client.get("/").content.decode()
    assert sign_in(Client(), NEW) == 302
    work_off()
    assert any("password was reset" in body for body in messages_to(ALICE))


def test_the_reset_page_answers_the_same_for_a_number_without_an_account(alice: User) -> None:
    answers = []
    for mobile in (ALICE, "+919800000004"):
        client = Client()
        asked = client.post("/password/reset/", {"mobile_number": mobile})
        answers.append((asked.status_code, asked.url, client.get(asked.url).status_code))
    assert answers[0] == answers[1] == (302, "/password/reset/confirm/", 200)


def test_the_reset_pages_say_why_they_refuse(alice: User, settings: Any) -> None:
    client = Client()
    bad = client.post("/password/reset/", {"mobile_number": "98765-abc"})
    assert bad.status_code == 400 and "Enter a mobile number" in bad.content.decode()
    client.post("/password/reset/", {"mobile_number": ALICE})
    code = last_code(ALICE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    refused = client.post(
        "/password/reset/confirm/",
        {"mobile_number": ALICE, "code": wrong, "new_password": NEW, "new_password_confirm": NEW},
    )
    page = refused.content.decode()
    assert refused.status_code == 400 and "That code is not right" in page and NEW not in page
    settings.PAYLANE_PASSWORD_RESET_NUMBER_RATE = "1/h"
    limited = client.post("/password/reset/", {"mobile_number": ALICE})
    assert limited.status_code == 429 and int(limited["Retry-After"]) >= 1
    assert "Too many password resets" in limited.content.decode()


def test_the_password_forms_need_their_csrf_token(alice: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert change(browser, PASSWORD).status_code == 403
    assert Client(enforce_csrf_checks=True).post("/password/reset/", {"mobile_number": ALICE}).status_code == 403
