"""Verified mobile numbers: a code sent to the number proves it; until then the wallet moves no money."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from ledger.models import Transaction
from tests.conftest import PASSWORD, PIN, balance_of, verified
from tests.support.forms import submit
from tests.support.sms import last_code, messages_to
from tests.wallets.api.conftest import Api, error_of
from wallets import services
from wallets.accounts import codes, pins, registration, sms, verification
from wallets.accounts.tokens import token_issue
from wallets.errors import (
    AlreadyVerified,
    CodeExpired,
    InvalidCode,
    MobileNotVerified,
    MobileTaken,
    RateLimited,
    RecipientNotFound,
)
from wallets.models import OneTimeCode, Profile, User

MOBILE = "+919800012345"


@pytest.fixture
def newcomer(db: None) -> User:
    return registration.user_register(username="nia", password=PASSWORD, mobile_number=MOBILE)


def api(user: User) -> Api:
    return Api(token_issue(user=user))


# --- The code ------------------------------------------------------------------------------


def test_sign_up_sends_a_six_digit_code_once_in_the_body_and_stores_only_a_hash(newcomer: User) -> None:
    (body,) = messages_to(MOBILE)
    code = last_code(MOBILE)
    assert len(code) == 6 and body.count(code) == 1
    stored = OneTimeCode.objects.get(user=newcomer)
    assert code not in stored.code_hash and len(stored.code_hash) == 64
    assert stored.expires_at - stored.created_at == timedelta(minutes=10)
    assert not newcomer.profile.mobile_verified


def test_the_right_code_verifies_the_number_once(newcomer: User) -> None:
    code = last_code(MOBILE)
    verification.mobile_verify(user=newcomer, code=code)
    assert Profile.objects.get(user=newcomer).mobile_verified
    # Used: the same code proves nothing a second time (here: nothing left to prove, and no live code).
    assert OneTimeCode.objects.get(user=newcomer).used_at is not None


def test_a_wrong_code_is_invalid_and_five_wrong_tries_void_the_code(newcomer: User) -> None:
    code = last_code(MOBILE)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(codes.MAX_WRONG_TRIES):
        with pytest.raises(InvalidCode):
            verification.mobile_verify(user=newcomer, code=wrong)
    with pytest.raises(CodeExpired):
        verification.mobile_verify(user=newcomer, code=code)  # the right one, too late
    assert not Profile.objects.get(user=newcomer).mobile_verified


def test_a_code_expires_after_ten_minutes(newcomer: User, monkeypatch: pytest.MonkeyPatch) -> None:
    code = last_code(MOBILE)
    later = timezone.now() + timedelta(minutes=10, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: later)
    with pytest.raises(CodeExpired):
        verification.mobile_verify(user=newcomer, code=code)


def test_a_new_code_voids_the_one_before(newcomer: User) -> None:
    first = last_code(MOBILE)
    verification.mobile_code_send(user=newcomer)
    second = last_code(MOBILE)
    if first != second:  # one chance in a million that the new code is the old one
        with pytest.raises(InvalidCode):  # only the newest code counts
            verification.mobile_verify(user=newcomer, code=first)
    verification.mobile_verify(user=newcomer, code=second)
    assert Profile.objects.get(user=newcomer).mobile_verified


def test_asking_for_codes_is_rate_limited_per_user(newcomer: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_CODE_RATE = "2/h"
    verification.mobile_code_send(user=newcomer)
    verification.mobile_code_send(user=newcomer)
    with pytest.raises(RateLimited):
        verification.mobile_code_send(user=newcomer)


def test_a_verified_number_asks_for_no_code(register: Callable[..., User]) -> None:
    with pytest.raises(AlreadyVerified):
        verification.mobile_code_send(user=register("vera"))


# --- One number, several claims ------------------------------------------------------------------


def test_two_accounts_may_claim_one_number_and_the_first_to_verify_keeps_it(db: None) -> None:
    first = registration.user_register(username="one", password=PASSWORD, mobile_number=MOBILE)
    first_code = last_code(MOBILE)
    second = registration.user_register(username="two", password=PASSWORD, mobile_number=MOBILE)
    second_code = last_code(MOBILE)

    verification.mobile_verify(user=second, code=second_code)

    assert Profile.objects.get(user=second).mobile_verified
    released = Profile.objects.get(user=first)
    assert (released.mobile_number, released.mobile_verified) == (None, False)
    with pytest.raises(CodeExpired):  # its code proves a number it no longer claims
        verification.mobile_verify(user=first, code=first_code)
    with pytest.raises(MobileTaken):  # a verified number stays unique
        verification.mobile_code_send(user=first, mobile_number=MOBILE)
    with pytest.raises(MobileTaken):
        registration.user_register(username="three", password=PASSWORD, mobile_number=MOBILE)

    verification.mobile_code_send(user=first, mobile_number="+919800054321")  # it must verify another
    verification.mobile_verify(user=first, code=last_code("+919800054321"))
    assert Profile.objects.get(user=first).mobile_number == "+919800054321"


# --- No money moves until the number is verified --------------------------------------------------


def test_an_unverified_wallet_cannot_add_or_send_money(newcomer: User, alice: User) -> None:
    with pytest.raises(MobileNotVerified):
        services.wallet_top_up(user=newcomer, amount="10")
    with pytest.raises(MobileNotVerified):
        services.transfer_create(sender=newcomer, to_user_id=alice.pk, amount="1")
    assert Transaction.objects.filter(receiver=newcomer).count() == 0


def test_an_unverified_wallet_cannot_be_paid_and_answers_as_an_unregistered_one(newcomer: User, alice: User) -> None:
    with pytest.raises(RecipientNotFound) as by_mobile:
        services.transfer_create(sender=alice, to_mobile=MOBILE, amount="1")
    with pytest.raises(RecipientNotFound) as unknown_mobile:
        services.transfer_create(sender=alice, to_mobile="+919800099999", amount="1")
    with pytest.raises(RecipientNotFound) as by_id:
        services.transfer_create(sender=alice, to_user_id=newcomer.pk, amount="1")
    with pytest.raises(RecipientNotFound) as unknown_id:
        services.transfer_create(sender=alice, to_user_id=10**9, amount="1")
    assert by_mobile.value.message == unknown_mobile.value.message
    assert by_id.value.message == unknown_id.value.message
    assert balance_of(alice) == Decimal("1000.00")

    verified(newcomer)
    services.transfer_create(sender=alice, to_mobile=MOBILE, amount="1")
    assert balance_of(newcomer) == Decimal("1.00")


# --- The API ---------------------------------------------------------------------------------------


def test_the_api_verifies_with_the_code_and_answers_each_refusal_with_its_code(newcomer: User, alice: User) -> None:
    client = api(newcomer)
    code = last_code(MOBILE)
    assert client.get("/api/v1/wallet/").json()["mobile_verified"] is False
    top_up = client.post("/api/v1/wallet/top-ups/", {"amount": "5"})
    assert (top_up.status_code, error_of(top_up)["code"]) == (403, "mobile_not_verified")
    pins.pin_set(user=newcomer, pin=PIN)  # the PIN is right: the number is what is missing
    pay = client.post("/api/v1/transfers/", {"to_user_id": alice.pk, "amount": "1"})
    assert (pay.status_code, error_of(pay)["code"]) == (403, "mobile_not_verified")
    paid = api(alice).post("/api/v1/transfers/", {"to_user_id": newcomer.pk, "amount": "1"})
    assert (paid.status_code, error_of(paid)["code"]) == (422, "recipient_not_found")

    wrong = client.post("/api/v1/auth/mobile/verify/", {"code": f"{(int(code) + 7) % 10**6:06d}"})
    assert (wrong.status_code, error_of(wrong)["code"]) == (400, "invalid_code")
    resent = client.post("/api/v1/auth/mobile/code/", {})
    assert resent.status_code == 202 and resent.json() == {"mobile_number": MOBILE, "mobile_verified": False}
    stale = client.post("/api/v1/auth/mobile/verify/", {"code": code})
    assert (stale.status_code, error_of(stale)["code"]) in {(400, "code_expired"), (400, "invalid_code")}
    ok = client.post("/api/v1/auth/mobile/verify/", {"code": last_code(MOBILE)})
    assert ok.status_code == 200 and ok.json() == {"mobile_verified": True}
    assert client.get("/api/v1/wallet/").json()["mobile_verified"] is True
    assert client.post("/api/v1/wallet/top-ups/", {"amount": "5"}).status_code == 201
    again = client.post("/api/v1/auth/mobile/code/", {})
    assert (again.status_code, error_of(again)["code"]) == (409, "already_verified")


def test_the_api_answers_an_expired_code_and_a_malformed_one(newcomer: User, monkeypatch: pytest.MonkeyPatch) -> None:
    client = api(newcomer)
    code = last_code(MOBILE)
    malformed = client.post("/api/v1/auth/mobile/verify/", {"code": "12ab56"})
    assert (malformed.status_code, error_of(malformed)["code"]) == (400, "validation_error")
    later = timezone.now() + timedelta(minutes=11)
    monkeypatch.setattr(timezone, "now", lambda: later)
    expired = client.post("/api/v1/auth/mobile/verify/", {"code": code})
    assert (expired.status_code, error_of(expired)["code"]) == (400, "code_expired")


def test_asking_for_too_many_codes_is_429_on_the_api(newcomer: User, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_CODE_RATE = "1/h"
    client = api(newcomer)
    assert client.post("/api/v1/auth/mobile/code/", {}).status_code == 202
    limited = client.post("/api/v1/auth/mobile/code/", {})
    assert (limited.status_code, error_of(limited)["code"]) == (429, "rate_limited")
    assert int(limited["Retry-After"]) >= 1


def test_a_backend_that_fails_never_fails_sign_up_and_a_new_code_says_so(db: None, settings) -> None:  # type: ignore[no-untyped-def]
    settings.PAYLANE_SMS_BACKEND = "tests.wallets.accounts.test_sms.BrokenBackend"
    response = Api().post("/api/v1/auth/register/", {"username": "ola", "password": PASSWORD, "mobile_number": MOBILE})
    assert response.status_code == 201
    ola = User.objects.get(username="ola")
    failed = api(ola).post("/api/v1/auth/mobile/code/", {})
    assert (failed.status_code, error_of(failed)["code"]) == (503, "sms_unavailable")
    assert sms.outbox == []


# --- The pages -------------------------------------------------------------------------------------


def test_the_dashboard_says_what_is_missing_and_the_money_forms_refuse_until_verified(newcomer: User) -> None:
    client = Client()
    client.force_login(newcomer)
    dashboard = client.get("/dashboard/").content.decode()
    assert 'id="verify-notice"' in dashboard and "/verify-mobile/" in dashboard
    refused = submit(client, "/add-money/", {"amount": "5"})
    assert refused.status_code == 400 and "Verify your mobile number first" in refused.content.decode()

    page = client.get("/verify-mobile/").content.decode()
    assert MOBILE in page
    wrong = client.post(
        "/verify-mobile/", {"action": "verify", "code": "000000" if last_code(MOBILE) != "000000" else "111111"}
    )
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    resend = client.post("/verify-mobile/", {"action": "resend", "mobile_number": MOBILE}, follow=True)
    assert "We sent a new code" in resend.content.decode()
    done = client.post("/verify-mobile/", {"action": "verify", "code": last_code(MOBILE)})
    assert (done.status_code, done.url) == (302, "/dashboard/")
    assert 'id="verify-notice"' not in client.get("/dashboard/").content.decode()
    assert submit(client, "/add-money/", {"amount": "5"}).status_code == 302
