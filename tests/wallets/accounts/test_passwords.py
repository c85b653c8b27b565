"""Password change and reset on the API: the revocations, the codes, answers that never tell, the limits, the logs.

The pages: test_password_pages.py. Sockets closed by a change or a reset:
tests/realtime/test_revocation.py. Through a live daphne: test_passwords_end_to_end.py.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.test import Client
from django.utils import timezone
from knox.models import AuthToken

from project import tasks
from tests.conftest import PASSWORD
from tests.jobs.support import work_off
from tests.support.logs import mentions
from tests.support.sms import CODE_MESSAGE, last_code, messages_to
from tests.wallets.api.conftest import Api, error_of
from wallets.accounts import codes, sms
from wallets.accounts.sms import BaseSmsBackend, SmsMessage
from wallets.accounts.tokens import token_issue
from wallets.models import OneTimeCode, User

CHANGE = "/api/v1/auth/password/"
RESET = "/api/v1/auth/password/reset/"
CONFIRM = "/api/v1/auth/password/reset/confirm/"
TOKEN = "/api/v1/auth/token/"
WALLET = "/api/v1/wallet/"
NEW = "an entirely new passphrase"
ALICE = "+919876543210"


def signs_in(username: str, password: str) -> bool:
    return Api().post(TOKEN, {"username": username, "password": password}).status_code == 200


def works(token: str) -> bool:
    return Api(token).get(WALLET).status_code == 200


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def reset_codes_to(mobile: str) -> list[str]:
    return [body for body in messages_to(mobile) if body.startswith(CODE_MESSAGE + "to reset")]


def alerts_to(mobile: str) -> list[str]:
    return [body for body in messages_to(mobile) if not body.startswith(CODE_MESSAGE)]


# --- Change --------------------------------------------------------------------------------------


def test_changing_the_password_answers_a_new_token_and_revokes_every_other(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    used, other = token_issue(user=alice), token_issue(user=alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = Api(used).post(CHANGE, {"current_password": PASSWORD, "new_password": NEW})
    assert response.status_code == 200, response.content
    new_token = response.json()["token"]
    assert set(response.json()) == {"token"}
    assert not works(used) and not works(other)
    assert works(new_token)
    assert AuthToken.objects.filter(user=alice).count() == 1
    assert signs_in("alice", NEW) and not signs_in("alice", PASSWORD)


def test_a_wrong_current_password_is_400_invalid_password_and_changes_nothing(alice: User) -> None:
    token = token_issue(user=alice)
    response = Api(token).post(CHANGE, {"current_password": "not my password", "new_password": NEW})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], list(error["fields"])) == ("invalid_password", ["current_password"])
    assert works(token) and signs_in("alice", PASSWORD)


def test_wrong_current_passwords_count_as_failed_sign_ins_and_five_lock_out_change_and_sign_in(alice: User) -> None:
    api = Api(token_issue(user=alice))
    attempts = [api.post(CHANGE, {"current_password": "wrong", "new_password": NEW}).status_code for _ in range(5)]
    assert attempts == [400] * 4 + [429]
    locked = api.post(CHANGE, {"current_password": PASSWORD, "new_password": NEW})
    assert (locked.status_code, error_of(locked)["code"]) == (429, "rate_limited")
    assert int(locked["Retry-After"]) == 15 * 60
    assert not signs_in("alice", PASSWORD)  # the same name and address are locked out of sign-in too
    assert not signs_in("alice", NEW)
    elsewhere = Client(REMOTE_ADDR="10.0.0.9").post(
        TOKEN, {"username": "alice", "password": PASSWORD}, content_type="application/json"
    )
    assert elsewhere.status_code == 200


@pytest.mark.parametrize(
    "new_password", ["short", "password123", "12345678901", "alice#99"], ids=["short", "common", "digits", "like"]
)
def test_the_new_password_must_pass_djangos_validators(alice: User, new_password: str) -> None:
    token = token_issue(user=alice)
    response = Api(token).post(CHANGE, {"current_password": PASSWORD, "new_password": new_password})
    assert response.status_code == 400
    error = error_of(response)
    assert (error["code"], list(error["fields"])) == ("validation_error", ["new_password"])
    assert works(token) and signs_in("alice", PASSWORD)


def test_a_session_call_needs_the_csrf_token_and_keeps_its_own_session_but_no_other(alice: User) -> None:
    browser, other = Client(enforce_csrf_checks=True), Client()
    browser.force_login(alice)
    other.force_login(alice)
    body = {"current_password": PASSWORD, "new_password": NEW}
    refused = browser.post(CHANGE, body, content_type="application/json")
    assert (refused.status_code, error_of(refused)["code"]) == (403, "permission_denied")

    browser.get("/dashboard/")  # sets the CSRF cookie
    csrf = browser.cookies["csrftoken"].value
    changed = browser.post(CHANGE, body, content_type="application/json", headers={"X-CSRFToken": csrf})
    assert changed.status_code == 200 and works(changed.json()["token"])
    assert browser.get(WALLET).status_code == 200
    assert other.get(WALLET).status_code == 401


def test_an_anonymous_caller_cannot_change_a_password(db: None) -> None:
    response = Api().post(CHANGE, {"current_password": PASSWORD, "new_password": NEW})
    assert (response.status_code, error_of(response)["code"]) == (401, "not_authenticated")


@pytest.mark.django_db(transaction=True)  # the worker commits as it goes
def test_a_password_change_alerts_the_verified_number_after_commit(alice: User) -> None:
    Api(token_issue(user=alice)).post(CHANGE, {"current_password": PASSWORD, "new_password": NEW})
    assert alerts_to(ALICE) == []  # queued with the change (the outbox), sent by the worker
    work_off()
    assert [body for body in alerts_to(ALICE) if "password was changed" in body] != []


# --- Reset: the request ------------------------------------------------------------------------


@pytest.fixture
def numbers(register: Callable[..., User], alice: User) -> dict[str, str]:
    """A number of each kind: verified by an active account, by an inactive one, only claimed, and nobody's."""
    inactive = register("ina", mobile="+919800000002")
    User.objects.filter(pk=inactive.pk).update(is_active=False)
    register("una", mobile="+919800000003", verify=False)
    return {"verified": ALICE, "inactive": "+919800000002", "unverified": "+919800000003", "nobody": "+919800000004"}


def test_a_reset_request_answers_202_with_the_same_body_whatever_the_number(numbers: dict[str, str]) -> None:
    answers = []
    for mobile in numbers.values():
        response = Api().post(RESET, {"mobile_number": mobile})
        # Every header but the request's own id (X-Request-ID, made for each request).
        headers = sorted((k, v) for k, v in response.headers.items() if k != "X-Request-ID")
        answers.append((response.status_code, response.json(), headers))
    assert answers[0][0] == 202
    assert all(answer == answers[0] for answer in answers)
    assert len(reset_codes_to(numbers["verified"])) == 1
    for kind in ("inactive", "unverified", "nobody"):
        assert reset_codes_to(numbers[kind]) == [], kind


def test_a_number_in_another_form_is_the_same_number_and_a_malformed_one_is_400(alice: User) -> None:
    assert Api().post(RESET, {"mobile_number": "98765 43210"}).status_code == 202
    assert len(reset_codes_to(ALICE)) == 1
    for malformed in ("98765-abc", "+91 12345"):  # not a number; one no numbering plan knows
        response = Api().post(RESET, {"mobile_number": malformed})
        assert (response.status_code, error_of(response)["code"]) == (400, "validation_error")
        assert list(error_of(response)["fields"]) == ["mobile_number"]


def test_reset_codes_are_limited_per_number_alike_for_every_number(numbers: dict[str, str], settings: Any) -> None:
    settings.PAYLANE_PASSWORD_RESET_NUMBER_RATE = "2/h"
    for mobile in numbers.values():
        statuses = [
            Api().client.post(RESET, {"mobile_number": mobile}, content_type="application/json", REMOTE_ADDR=address)
            for address in ("10.0.0.1", "10.0.0.2", "10.0.0.3")  # another address does not help
        ]
        assert [s.status_code for s in statuses] == [202, 202, 429], mobile
        assert error_of(statuses[2])["code"] == "rate_limited" and int(statuses[2]["Retry-After"]) >= 1
    assert len(reset_codes_to(ALICE)) == 2


def test_reset_requests_and_confirmations_are_limited_per_client_address(alice: User, settings: Any) -> None:
    settings.PAYLANE_PASSWORD_RESET_RATE = "3/h"
    assert Api().post(RESET, {"mobile_number": ALICE}).status_code == 202
    code = last_code(ALICE)
    confirm = {"mobile_number": ALICE, "code": wrong(code), "new_password": NEW}
    assert Api().post(CONFIRM, confirm).status_code == 400
    assert Api().post(CONFIRM, confirm).status_code == 400
    limited = Api().post(CONFIRM, {**confirm, "code": code})
    assert (limited.status_code, error_of(limited)["code"]) == (429, "rate_limited")
    assert signs_in("alice", PASSWORD)
    elsewhere = Client(REMOTE_ADDR="10.0.0.7").post(CONFIRM, {**confirm, "code": code}, content_type="application/json")
    assert elsewhere.status_code == 200


# --- Reset: the confirmation ---------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # the worker commits as it goes
def test_the_code_sets_the_new_password_answers_a_token_and_revokes_every_credential(
    alice: User, django_capture_on_commit_callbacks: Any
) -> None:
    old = token_issue(user=alice)
    browser = Client()
    browser.force_login(alice)
    Api().post(RESET, {"mobile_number": ALICE})
    code = last_code(ALICE)
    with django_capture_on_commit_callbacks(execute=True):
        response = Api().post(CONFIRM, {"mobile_number": "+91 98765 43210", "code": code, "new_password": NEW})
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"token"} and works(response.json()["token"])
    assert not works(old)
    assert browser.get(WALLET).status_code == 401
    assert signs_in("alice", NEW) and not signs_in("alice", PASSWORD)
    work_off()
    assert [body for body in alerts_to(ALICE) if "password was reset" in body] != []
    used = Api().post(CONFIRM, {"mobile_number": ALICE, "code": code, "new_password": "yet another passphrase"})
    assert (used.status_code, error_of(used)["code"]) == (400, "code_expired")


def test_five_wrong_codes_void_the_code_and_an_expired_one_is_code_expired(
    alice: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    Api().post(RESET, {"mobile_number": ALICE})
    code = last_code(ALICE)
    body = {"mobile_number": ALICE, "code": wrong(code), "new_password": NEW}
    answers = [error_of(Api().post(CONFIRM, body))["code"] for _ in range(codes.MAX_WRONG_TRIES)]
    assert answers == ["invalid_code"] * codes.MAX_WRONG_TRIES
    voided = Api().post(CONFIRM, {**body, "code": code})
    assert (voided.status_code, error_of(voided)["code"]) == (400, "code_expired")

    Api().post(RESET, {"mobile_number": ALICE})
    fresh = last_code(ALICE)
    later = timezone.now() + codes.CODE_TTL + timedelta(seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    expired = Api().post(CONFIRM, {**body, "code": fresh})
    assert (expired.status_code, error_of(expired)["code"]) == (400, "code_expired")
    assert signs_in("alice", PASSWORD)


def test_a_number_without_an_account_answers_the_confirmation_exactly_as_one_with_an_account(
    numbers: dict[str, str], settings: Any
) -> None:
    settings.PAYLANE_PASSWORD_RESET_RATE = "1000/h"  # one address tells all four stories

    def story(mobile: str) -> list[tuple[int, dict[str, Any]]]:
        """Confirm before any request, then ask for a code and guess wrong until it is void."""
        body = {"mobile_number": mobile, "code": "000000", "new_password": NEW}
        answers = [Api().post(CONFIRM, body)]
        Api().post(RESET, {"mobile_number": mobile})
        if mobile == ALICE and last_code(ALICE) == "000000":
            body["code"] = "111111"  # one chance in a million that the guess is the code
        answers += [Api().post(CONFIRM, body) for _ in range(codes.MAX_WRONG_TRIES + 1)]
        return [(answer.status_code, answer.json()) for answer in answers]

    stories = {kind: story(mobile) for kind, mobile in numbers.items()}
    expected = stories["verified"]
    codes_seen = [error["error"]["code"] for _, error in expected]
    assert codes_seen == ["code_expired"] + ["invalid_code"] * codes.MAX_WRONG_TRIES + ["code_expired"]
    for kind, answers in stories.items():
        assert answers == expected, kind


def test_password_rules_that_need_no_account_come_first_and_the_others_only_after_the_code(
    numbers: dict[str, str],
) -> None:
    for mobile in numbers.values():  # with or without an account: the same refusal, no code spent
        common = Api().post(CONFIRM, {"mobile_number": mobile, "code": "000000", "new_password": "password123"})
        assert (common.status_code, list(error_of(common)["fields"])) == (400, ["new_password"]), mobile
    Api().post(RESET, {"mobile_number": ALICE})
    code = last_code(ALICE)
    # Too like the username: said only to the holder of the code; the code stays usable.
    like = Api().post(CONFIRM, {"mobile_number": ALICE, "code": wrong(code), "new_password": "alice#99"})
    assert error_of(like)["code"] == "invalid_code"
    like = Api().post(CONFIRM, {"mobile_number": ALICE, "code": code, "new_password": "alice#99"})
    assert (like.status_code, list(error_of(like)["fields"])) == (400, ["new_password"])
    assert OneTimeCode.objects.get(user__username="alice", purpose="password_reset").used_at is None
    assert Api().post(CONFIRM, {"mobile_number": ALICE, "code": code, "new_password": NEW}).status_code == 200


# --- Off the request's path, and no secret in the logs -------------------------------------------


class HeldBackend(BaseSmsBackend):
    """Holds every send until the test releases it (at most 30 s)."""

    entered = threading.Event()
    release = threading.Event()

    def send_messages(self, messages: Sequence[SmsMessage]) -> int:
        HeldBackend.entered.set()
        if not HeldBackend.release.wait(30):
            raise TimeoutError("never released")
        sms.outbox.extend(messages)
        return len(messages)


@pytest.fixture
def on_threads(settings: Any) -> Iterator[None]:
    settings.TASKS = {**settings.TASKS, "threads": {"BACKEND": "project.tasks.ThreadBackend"}}
    HeldBackend.entered.clear()
    HeldBackend.release.clear()
    yield
    HeldBackend.release.set()
    assert tasks.flush(10)


@pytest.mark.django_db(transaction=True)  # the worker thread reads what the test committed
def test_a_reset_request_answers_before_the_account_is_looked_up_or_the_code_sent(
    register: Callable[..., User], on_threads: None, settings: Any
) -> None:
    register("alice", mobile=ALICE)
    settings.PAYLANE_SMS_BACKEND = "tests.wallets.accounts.test_passwords.HeldBackend"
    response = Api().post(RESET, {"mobile_number": ALICE})
    assert response.status_code == 202
    assert HeldBackend.entered.wait(10)  # the worker is inside the provider; the answer is already out
    assert reset_codes_to(ALICE) == []
    HeldBackend.release.set()
    assert tasks.flush(10)
    assert len(reset_codes_to(ALICE)) == 1


def test_no_password_or_code_reaches_the_logs_or_django_axes_records(
    alice: User, caplog: pytest.LogCaptureFixture, django_capture_on_commit_callbacks: Any
) -> None:
    wrong_password, second = "not-my-password-at-all", "a second new passphrase"
    with caplog.at_level(logging.DEBUG), django_capture_on_commit_callbacks(execute=True):
        api = Api(token_issue(user=alice))
        api.post(CHANGE, {"current_password": wrong_password, "new_password": NEW})
        api.post(CHANGE, {"current_password": PASSWORD, "new_password": "short"})
        api.post(CHANGE, {"current_password": PASSWORD, "new_password": NEW})
        Api().post(RESET, {"mobile_number": ALICE})
        code = last_code(ALICE)
        Api().post(CONFIRM, {"mobile_number": ALICE, "code": wrong(code), "new_password": second})
        Api().post(CONFIRM, {"mobile_number": ALICE, "code": code, "new_password": second})
        page = Client()
        page.force_login(alice)
        page.post("/password/", {"current_password": wrong_password, "new_password": NEW, "new_password_confirm": NEW})
        Client().post("/", {"action": "login", "login-username": "alice", "login-password": wrong_password})
    assert signs_in("alice", second)
    stored = " ".join(f"{a.get_data} {a.post_data}" for a in AccessAttempt.objects.all())
    assert AccessAttempt.objects.exists()
    for secret in (PASSWORD, NEW, second, wrong_password, code, wrong(code)):
        assert not mentions(caplog.text, secret)
        assert secret not in stored
