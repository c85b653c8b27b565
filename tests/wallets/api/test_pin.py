"""The payment PIN over the API: PUT /auth/pin/, POST /auth/pin/code/, and every transfer asking for it."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.support.logs import mentions
from tests.support.sms import last_code, messages_to
from tests.wallets.api.conftest import Api, error_of, state
from wallets.idempotency import body_fingerprint
from wallets.models import IdempotencyKey, PaymentPin, User

TRANSFERS = "/api/v1/transfers/"
PIN_URL = "/api/v1/auth/pin/"
WRONG = "1357"


def code_of(response: object) -> tuple[int, str]:
    return response.status_code, error_of(response)["code"]  # type: ignore[attr-defined]


# --- Setting and changing it ------------------------------------------------------------------


def test_the_first_pin_is_set_with_put_and_a_change_needs_the_current_pin(
    api_for: Callable[[User], Api], register: Callable[..., User]
) -> None:
    nia = register("nia", pin=None)
    api = api_for(nia)
    assert api.get("/api/v1/wallet/").json()["pin_set"] is False

    first = api.put(PIN_URL, {"pin": "4826"})
    assert (first.status_code, first.json()) == (200, {"pin_set": True, "changed": False})
    assert api.get("/api/v1/wallet/").json()["pin_set"] is True

    def put(body: dict[str, str]) -> object:
        return api.put(PIN_URL, body)

    no_proof = put({"pin": "5937"})
    assert code_of(no_proof) == (400, "pin_required")
    assert error_of(no_proof)["fields"] == {"current_pin": [error_of(no_proof)["message"]]}
    assert code_of(put({"pin": "5937", "current_pin": WRONG})) == (403, "invalid_pin")
    both = put({"pin": "5937", "current_pin": "4826", "code": "123456"})
    assert code_of(both) == (400, "validation_error")
    changed = put({"pin": "5937", "current_pin": "4826"})
    assert (changed.status_code, changed.json()) == (200, {"pin_set": True, "changed": True})


@pytest.mark.parametrize("weak", ["0000", "999999", "1234", "23456", "987654", "6543"])
def test_a_trivial_pin_is_a_400_weak_pin(
    api_for: Callable[[User], Api], register: Callable[..., User], weak: str
) -> None:
    api = api_for(register("nia", pin=None))
    answer = api.put(PIN_URL, {"pin": weak})
    assert code_of(answer) == (400, "weak_pin")
    assert error_of(answer)["fields"] == {"pin": [error_of(answer)["message"]]}
    assert not PaymentPin.objects.exists()


def test_a_code_sent_to_the_verified_number_changes_the_pin(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    sent = api.post("/api/v1/auth/pin/code/")
    assert (sent.status_code, sent.json()) == (202, {"mobile_number": "+919876543210"})
    assert "change your payment PIN" in messages_to("+919876543210")[-1]

    def put(body: dict[str, str]) -> object:
        return api.put(PIN_URL, body)

    code = last_code("+919876543210")
    assert code_of(put({"pin": "5937", "code": f"{(int(code) + 1) % 10**6:06d}"})) == (400, "invalid_code")
    assert put({"pin": "5937", "code": code}).json() == {"pin_set": True, "changed": True}
    assert api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "1"}, pin="5937").status_code == 201
    assert code_of(api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "1"}, pin=PIN)) == (403, "invalid_pin")


def test_asking_for_a_code_needs_a_pin_and_a_verified_number(
    api_for: Callable[[User], Api], register: Callable[..., User]
) -> None:
    assert code_of(api_for(register("nia", pin=None)).post("/api/v1/auth/pin/code/")) == (403, "pin_not_set")
    assert code_of(api_for(register("uma", verify=False)).post("/api/v1/auth/pin/code/")) == (
        403,
        "mobile_not_verified",
    )


# --- Every transfer needs it ------------------------------------------------------------------


def test_a_transfer_without_a_pin_is_400_pin_required_and_changes_nothing(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    before = state()
    for body in ({"to_user_id": bob.pk, "amount": "5"}, {"to_user_id": bob.pk, "amount": "5", "pin": None}):
        answer = api.post(TRANSFERS, body, pin=None)
        assert code_of(answer) == (400, "pin_required")
        assert error_of(answer)["fields"] == {"pin": ["Enter your payment PIN."]}
    assert code_of(api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5", "pin": ""})) == (400, "pin_required")
    assert code_of(api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5", "pin": "48"})) == (
        400,
        "validation_error",
    )
    assert code_of(api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5", "pin": 4826})) == (
        400,
        "validation_error",
    )
    assert state() == before


def test_a_transfer_before_any_pin_is_set_is_403_pin_not_set(
    api_for: Callable[[User], Api], register: Callable[..., User], bob: User
) -> None:
    nia = register("nia", pin=None, balance="10.00")
    before = state()
    assert code_of(api_for(nia).post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"})) == (403, "pin_not_set")
    assert state() == before


def test_wrong_pins_are_403_then_the_fifth_in_a_row_locks_payments_for_15_minutes_with_423(
    api_for: Callable[[User], Api], alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = api_for(alice)
    before = state()
    wrong = [api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"}, pin=WRONG) for _ in range(4)]
    assert [code_of(a) for a in wrong] == [(403, "invalid_pin")] * 4
    assert "1 more wrong PIN and payments lock for 15 minutes" in error_of(wrong[3])["message"]

    fifth = api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"}, pin=WRONG)
    right = api.post(TRANSFERS, {"to_mobile": "+919812345678", "amount": "5"})

    for locked in (fifth, right):
        assert code_of(locked) == (423, "pin_locked")
        assert 890 <= int(locked["Retry-After"]) <= 900
    assert "even with the right PIN" in error_of(right)["message"]
    assert state() == before  # nothing in the ledger, nothing moved, no key stored

    moment = timezone.now() + timedelta(minutes=15, seconds=1)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    assert api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"}).status_code == 201
    assert balance_of(bob) == Decimal("5.00")


def test_a_pin_change_with_a_wrong_current_pin_counts_towards_the_same_lockout(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    for _ in range(4):
        api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"}, pin=WRONG)
    change = api.put(PIN_URL, {"pin": "5937", "current_pin": WRONG})
    assert code_of(change) == (423, "pin_locked") and int(change["Retry-After"]) > 0
    assert code_of(api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"})) == (423, "pin_locked")


# --- Idempotency: replays, the fingerprint ----------------------------------------------------


def test_a_replay_answers_the_first_outcome_whatever_its_pin_and_counts_nothing(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    body = {"to_user_id": bob.pk, "amount": "5"}
    first = api.post(TRANSFERS, body, **{"Idempotency-Key": "pay-1"})
    assert first.status_code == 201

    replays = [api.post(TRANSFERS, body, pin=pin, **{"Idempotency-Key": "pay-1"}) for pin in (PIN, WRONG, "0000")]

    for replay in replays:
        assert (replay.status_code, replay.json(), replay["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert PaymentPin.objects.get(user_id=alice.pk).failures_in_a_row == 0  # no PIN was tried: no oracle
    missing = api.post(TRANSFERS, body, pin=None, **{"Idempotency-Key": "pay-1"})
    assert code_of(missing) == (400, "pin_required")  # the form of the body, PIN included, is checked first
    assert balance_of(bob) == Decimal("5.00")


def test_a_refusal_for_the_pin_stores_nothing_so_the_same_key_pays_with_the_right_pin(
    api_for: Callable[[User], Api], alice: User, bob: User
) -> None:
    api = api_for(alice)
    body = {"to_user_id": bob.pk, "amount": "5"}
    assert code_of(api.post(TRANSFERS, body, pin=WRONG, **{"Idempotency-Key": "pay-2"})) == (403, "invalid_pin")
    assert not IdempotencyKey.objects.exists()
    paid = api.post(TRANSFERS, body, **{"Idempotency-Key": "pay-2"})
    assert paid.status_code == 201 and "Idempotent-Replayed" not in paid


def test_the_pin_is_neither_fingerprinted_nor_stored_with_the_idempotency_key(
    api_for: Callable[[User], Api], register: Callable[..., User], bob: User
) -> None:
    pin = "739154"
    payer = register("payer", pin=pin, balance="50.00")
    body = {"to_user_id": bob.pk, "amount": "5"}
    assert api_for(payer).post(TRANSFERS, body, pin=pin, **{"Idempotency-Key": "pay-3"}).status_code == 201

    record = IdempotencyKey.objects.get(key="pay-3")
    assert record.fingerprint == body_fingerprint(endpoint="transfer", body=body)
    # A fingerprint with the PIN in it could be reversed by trying all 10^4..10^6 PINs.
    assert record.fingerprint != body_fingerprint(endpoint="transfer", body={**body, "_": pin})
    stored = " ".join(str(v) for v in IdempotencyKey.objects.values_list("fingerprint", "response_body", "key").get())
    assert pin not in stored


def test_no_pin_reaches_the_logs_whether_right_or_wrong(
    api_for: Callable[[User], Api], register: Callable[..., User], bob: User, caplog: pytest.LogCaptureFixture
) -> None:
    right, wrong = "739154", "862057"
    payer = register("payer", pin=right, balance="50.00")
    api = api_for(payer)
    with caplog.at_level(logging.DEBUG):
        api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"}, pin=wrong)
        api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5"}, pin=right)
        api.post(TRANSFERS, {"to_user_id": bob.pk, "amount": "5000"}, pin=right)  # refused for funds
        api.put(PIN_URL, {"pin": "05937", "current_pin": wrong})
    assert caplog.records  # the refusals were logged (django.request), without the PIN
    assert not any(mentions(caplog.text, pin) for pin in (right, wrong, "05937"))  # 0…: no id prints so
    assert Transaction.objects.filter(sender=payer).count() == 2  # the payment and the FAILED attempt
