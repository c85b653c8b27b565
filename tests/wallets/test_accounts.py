"""Accounts at the edges: without a wallet, signing in in any case, and never deleted in the admin."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import PASSWORD
from tests.support.forms import form_token
from wallets.models import Profile, User, Wallet


@pytest.fixture
def root(db: None) -> User:
    return User.objects.create_superuser("root", password=PASSWORD)  # createsuperuser makes no wallet


@pytest.mark.parametrize("path", ["/dashboard/", "/add-money/", "/transfer/", "/pay-mobile/", "/transactions/"])
def test_an_account_without_a_wallet_gets_a_clear_page_not_a_500(root: User, path: str) -> None:
    client = Client()
    client.force_login(root)
    response = client.get(path)
    assert response.status_code == 403
    assert "This account has no wallet" in response.content.decode()


def test_an_account_without_a_wallet_cannot_post_money_forms(root: User, alice: User) -> None:
    client = Client()
    client.force_login(alice)
    token = form_token(client.get("/add-money/").content.decode())
    client.force_login(root)
    assert client.post("/add-money/", {"amount": "5", "form_token": token}).status_code == 403
    assert not Wallet.objects.filter(user=root).exists()


def test_signing_in_on_the_page_without_a_wallet_lands_on_the_clear_page(root: User) -> None:
    client = Client()
    response = client.post("/", {"action": "login", "login-username": "root", "login-password": PASSWORD}, follow=True)
    assert response.redirect_chain == [("/dashboard/", 302)]
    assert response.status_code == 403
    assert "This account has no wallet" in response.content.decode()
    # The admin's "View site" link goes to the home page, which sends a signed-in person to the dashboard.
    assert client.get("/", follow=True).status_code == 403


# --- Sign-in ignores case, as usernames are unique regardless of case ---------------------------


@pytest.mark.parametrize(
    ("typed", "typed_staff"), [("alice", "root"), ("ALICE", "ROOT"), ("Alice", "Root"), ("aLiCe", "rOoT")]
)
def test_sign_in_ignores_the_case_of_the_username_on_pages_api_and_admin(
    alice: User, root: User, typed: str, typed_staff: str
) -> None:
    page = Client().post("/", {"action": "login", "login-username": typed, "login-password": PASSWORD})
    assert (page.status_code, page.url) == (302, "/dashboard/")
    api = Client().post(
        "/api/v1/auth/token/", {"username": typed, "password": PASSWORD}, content_type="application/json"
    )
    assert api.status_code == 200 and api.json()["token"]
    admin = Client().post("/admin/login/", {"username": typed_staff, "password": PASSWORD})
    assert admin.status_code == 302


def test_a_lockout_counts_failures_whatever_case_they_were_typed_in(alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = 3
    api = Client()
    for typed in ("alice", "ALICE", "Alice"):
        api.post("/api/v1/auth/token/", {"username": typed, "password": "wrong"}, content_type="application/json")
    locked = api.post(
        "/api/v1/auth/token/", {"username": "aLiCe", "password": PASSWORD}, content_type="application/json"
    )
    assert locked.status_code == 429


# --- The admin never adds or deletes accounts, profiles or wallets -------------------------------


def test_the_admin_offers_no_add_or_delete_of_profiles_and_no_delete_of_users(
    admin_client: Client, alice: User
) -> None:
    profile = Profile.objects.get(user=alice)
    assert admin_client.get("/admin/wallets/profile/add/").status_code == 403
    assert admin_client.post(f"/admin/wallets/profile/{profile.pk}/delete/", {"post": "yes"}).status_code == 403
    assert admin_client.post(f"/admin/wallets/user/{alice.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = admin_client.post(
        "/admin/wallets/user/", {"action": "delete_selected", "_selected_action": [alice.pk], "post": "yes"}
    )
    assert bulk.status_code in (200, 302)
    assert User.objects.filter(pk=alice.pk).exists()
    assert Profile.objects.filter(user=alice).exists() and Wallet.objects.filter(user=alice).exists()
    assert admin_client.get("/api/v1/wallet/").status_code == 403  # the admin's own account has no wallet


@pytest.mark.parametrize("length", [151, 300, 5000])
def test_signing_in_with_an_overlong_name_is_refused_not_a_500(alice: User, length: int) -> None:
    page = Client().post("/", {"action": "login", "login-username": "a" * length, "login-password": "nope"})
    assert page.status_code == 400
    api = Client().post(
        "/api/v1/auth/token/", {"username": "a" * length, "password": "nope"}, content_type="application/json"
    )
    assert api.status_code == 400
