"""Registration, tokens (Bearer), sessions with CSRF, and the django-axes lockout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from tests.conftest import PASSWORD
from tests.wallets.api.conftest import Api, error_of
from wallets.models import User

TOKEN = "/api/v1/auth/token/"


def test_register_returns_201_with_the_normalised_mobile_number(anon: Api) -> None:
    response = anon.post(
        "/api/v1/auth/register/", {"username": "carol", "password": PASSWORD, "mobile_number": "98765 43210"}
    )
    assert response.status_code == 201, response.content
    user = User.objects.get(username="carol")
    assert response.json() == {
        "user_id": user.pk,
        "username": "carol",
        "mobile_number": "+919876543210",
        "mobile_verified": False,
    }
    assert user.wallet.balance == 0


def test_register_applies_the_password_validators(anon: Api) -> None:
    response = anon.post(
        "/api/v1/auth/register/", {"username": "carol", "password": "123", "mobile_number": "+919876543210"}
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "password" in error["fields"]
    assert not User.objects.filter(username="carol").exists()


def test_register_refuses_a_taken_username_and_a_missing_field(anon: Api, alice: User) -> None:
    taken = anon.post(
        "/api/v1/auth/register/", {"username": "ALICE", "password": PASSWORD, "mobile_number": "+919811111111"}
    )
    missing = anon.post("/api/v1/auth/register/", {"username": "dave", "password": PASSWORD})
    assert taken.status_code == 400 and error_of(taken)["fields"] == {"username": ["That username is taken."]}
    assert missing.status_code == 400 and list(error_of(missing)["fields"]) == ["mobile_number"]


def test_text_fields_are_json_strings_as_the_schema_says(anon: Api) -> None:
    # DRF would turn a JSON number into text; the schema says string, and a schema-invalid body is refused.
    for body in (
        {"username": "carol", "password": PASSWORD, "mobile_number": 9876543210},
        {"username": 12345, "password": PASSWORD, "mobile_number": "98765 43210"},
        {"username": "carol", "password": 1234567890123, "mobile_number": "98765 43210"},
    ):
        response = anon.post("/api/v1/auth/register/", body)
        assert response.status_code == 400, body
        assert error_of(response)["fields"].keys() == {
            name for name, value in body.items() if not isinstance(value, str)
        }
    assert not User.objects.exists()


def test_token_is_issued_for_good_credentials_and_works_as_bearer(anon: Api, alice: User) -> None:
    response = anon.post(TOKEN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 200
    token = response.json()["token"]
    wallet = Api(token).get("/api/v1/wallet/")
    assert wallet.status_code == 200 and wallet.json()["username"] == "alice"


def test_token_for_bad_credentials_is_a_400_without_a_token(anon: Api, alice: User) -> None:
    response = anon.post(TOKEN, {"username": "alice", "password": "wrong"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert "token" not in response.json()


def test_delete_token_revokes_it(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    assert api.delete(TOKEN).status_code == 204
    after = api.get("/api/v1/wallet/")
    assert after.status_code == 401
    assert error_of(after)["code"] == "not_authenticated"


def test_each_sign_in_issues_a_new_token_and_delete_revokes_only_its_own(anon: Api, alice: User) -> None:
    phone, laptop = (anon.post(TOKEN, {"username": "alice", "password": PASSWORD}).json()["token"] for _ in range(2))
    assert phone != laptop
    assert Api(phone).delete(TOKEN).status_code == 204
    assert Api(phone).get("/api/v1/wallet/").status_code == 401
    assert Api(laptop).get("/api/v1/wallet/").status_code == 200


def test_an_expired_token_is_401(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    AuthToken.objects.filter(user=alice).update(expiry=timezone.now() - timedelta(seconds=1))
    response = api.get("/api/v1/wallet/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"


def test_delete_token_with_a_session_is_a_400_and_revokes_nothing(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    browser = Client()
    browser.force_login(alice)
    response = browser.delete(TOKEN)
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert api.get("/api/v1/wallet/").status_code == 200


def test_anonymous_calls_get_401_with_a_bearer_challenge(anon: Api) -> None:
    for response in (anon.get("/api/v1/wallet/"), anon.post("/api/v1/transfers/", {}), anon.delete(TOKEN)):
        assert response.status_code == 401
        assert error_of(response)["code"] == "not_authenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_or_malformed_bearer_token_is_401(alice: User) -> None:
    for header in ("Bearer nope", "Bearer", "Bearer a b", "Bearer " + "x" * 500):
        response = Client().get("/api/v1/wallet/", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert error_of(response)["code"] == "not_authenticated"


def test_session_auth_needs_the_csrf_token(alice: User, bob: User) -> None:
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/api/v1/wallet/").status_code == 200
    refused = browser.post("/api/v1/wallet/top-ups/", {"amount": "5"}, content_type="application/json")
    assert refused.status_code == 403
    assert error_of(refused)["code"] == "permission_denied"

    browser.get("/dashboard/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(
        "/api/v1/wallet/top-ups/", {"amount": "5"}, content_type="application/json", headers={"X-CSRFToken": token}
    )
    assert accepted.status_code == 201, accepted.content


def test_token_endpoint_locks_out_after_five_failures_for_that_username_and_ip(anon: Api, alice: User) -> None:
    for _ in range(4):
        assert anon.post(TOKEN, {"username": "alice", "password": "wrong"}).status_code == 400
    fifth = anon.post(TOKEN, {"username": "alice", "password": "wrong"})
    assert fifth.status_code == 429
    locked = anon.post(TOKEN, {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429
    assert error_of(locked)["code"] == "rate_limited"
    assert int(locked["Retry-After"]) == 15 * 60
    assert "token" not in locked.json()
    # Another IP is a different pair, so the real user elsewhere is not locked out.
    elsewhere = Client(REMOTE_ADDR="10.0.0.9").post(
        TOKEN, {"username": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert elsewhere.status_code == 200


def test_login_page_locks_out_after_five_failures(client: Client, alice: User) -> None:
    def attempt(password: str) -> int:
        return client.post("/", {"action": "login", "login-username": "alice", "login-password": password}).status_code

    assert [attempt("wrong") for _ in range(4)] == [400] * 4
    assert attempt("wrong") == 429
    response = client.post("/", {"action": "login", "login-username": "alice", "login-password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert "_auth_user_id" not in client.session


@pytest.mark.parametrize("limit", [2])
def test_the_lockout_threshold_comes_from_settings(anon: Api, alice: User, settings, limit: int) -> None:  # type: ignore[no-untyped-def]
    settings.AXES_FAILURE_LIMIT = limit
    statuses = [anon.post(TOKEN, {"username": "alice", "password": "wrong"}).status_code for _ in range(limit)]
    assert statuses == [400] * (limit - 1) + [429]


def test_an_account_without_a_wallet_gets_403_not_a_500(db: None) -> None:
    admin = User.objects.create_superuser("root", password=PASSWORD)  # createsuperuser makes no wallet
    client = Client()
    client.force_login(admin)
    for response in (client.get("/api/v1/wallet/"), client.get("/api/v1/transactions/")):
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"


def test_a_token_of_an_account_without_a_wallet_gets_403_not_a_500(db: None) -> None:
    from wallets.accounts.tokens import token_issue

    admin = User.objects.create_superuser("root", password=PASSWORD)  # createsuperuser makes no wallet
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=admin)}")
    transfer = client.post(
        "/api/v1/transfers/", {"to_user_id": 1, "amount": "1.00", "pin": "4826"}, content_type="application/json"
    )
    for response in (client.get("/api/v1/wallet/"), transfer):
        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"


def test_a_successful_page_sign_in_clears_the_failure_count(client: Client, alice: User) -> None:
    def attempt(password: str) -> int:
        return client.post("/", {"action": "login", "login-username": "alice", "login-password": password}).status_code

    assert [attempt("wrong") for _ in range(4)] == [400] * 4
    assert attempt(PASSWORD) == 302
    client.post("/logout/")
    assert [attempt("wrong") for _ in range(4)] == [400] * 4


def test_a_json_only_api_answers_406_to_an_accept_without_json(api_for: Callable[[User], Api], alice: User) -> None:
    response = api_for(alice).get("/api/v1/wallet/", Accept="text/html")
    assert response.status_code == 406
    assert error_of(response)["code"] == "not_acceptable"


def test_sign_ups_are_rate_limited_per_address_so_they_cannot_probe_numbers(anon: Api, alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_REGISTER_RATE = "2/h"
    probe = {"username": "mallory", "password": PASSWORD, "mobile_number": "+919876543210"}
    assert [anon.post("/api/v1/auth/register/", probe).status_code for _ in range(2)] == [400, 400]
    limited = anon.post("/api/v1/auth/register/", probe)
    assert limited.status_code == 429
    assert error_of(limited)["code"] == "rate_limited" and int(limited["Retry-After"]) <= 3600
    other = Client(REMOTE_ADDR="10.0.0.7").post("/api/v1/auth/register/", probe, content_type="application/json")
    assert other.status_code == 400
