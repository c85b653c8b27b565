"""The payment PIN's service: its hash, its rules, setting and changing it, the lockout (wallets/accounts/pins.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password
from django.utils import timezone

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.racing import race
from tests.support.sms import last_code, messages_to
from wallets import payments
from wallets.accounts import pins
from wallets.errors import (
    CodeExpired,
    InvalidCode,
    InvalidPin,
    MobileNotVerified,
    PinLocked,
    PinNotSet,
    PinProofRequired,
    PinRequired,
    ValidationFailed,
    WeakPin,
)
from wallets.models import PaymentPin, User


def row(user: User) -> PaymentPin:
    return PaymentPin.objects.get(user_id=user.pk)


def later(monkeypatch: pytest.MonkeyPatch, delta: timedelta) -> None:
    moment = timezone.now() + delta
    monkeypatch.setattr(timezone, "now", lambda: moment)


# --- How it is stored -------------------------------------------------------------------------


def test_a_pin_is_stored_as_a_salted_peppered_pbkdf2_hash_that_no_password_hasher_accepts(alice: User) -> None:
    stored = row(alice).pin_hash
    algorithm, iterations, salt, digest = stored.split("$")
    assert (algorithm, int(iterations)) == ("paylane_pin_pbkdf2_sha256", pins.PinHasher.iterations)
    assert len(salt) >= 22 and len(digest) == 44  # a fresh random salt; a SHA-256 digest in base64
    assert PIN not in stored
    assert pins.PIN_HASHER.verify(PIN, stored) and not pins.PIN_HASHER.verify("4827", stored)
    assert pins.pin_hash(PIN) != stored  # a fresh salt each time
    # Not a password hash: Django's password machinery does not know the algorithm, so a PIN's hash
    # copied into a password column would let nobody in.
    assert check_password(PIN, stored) is False


def test_without_the_secret_key_the_table_gives_nothing_to_try_pins_against(alice: User, settings: Any) -> None:
    stored = row(alice).pin_hash
    # The digest is PBKDF2 over an HMAC of the PIN keyed from SECRET_KEY, not over the PIN.
    unpeppered = PBKDF2PasswordHasher().encode(PIN, stored.split("$")[2], pins.PinHasher.iterations)
    assert unpeppered.split("$")[3] != stored.split("$")[3]
    settings.SECRET_KEY = "another key entirely, as a thief without ours would have to guess"
    assert not pins.PIN_HASHER.verify(PIN, stored)


def test_a_rotated_secret_key_keeps_pins_working_and_rehashes_them_at_the_next_right_pin(
    alice: User, settings: Any
) -> None:
    stored = row(alice).pin_hash
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "the new key after a rotation"
    assert pins.pin_try(user_id=alice.pk, pin=PIN).outcome is pins.PinOutcome.RIGHT
    rehashed = row(alice).pin_hash
    assert rehashed != stored
    settings.SECRET_KEY_FALLBACKS = []
    assert pins.PIN_HASHER.verify(PIN, rehashed)


def test_a_pin_hash_is_stretched_a_few_thousand_times_not_at_the_password_cost(alice: User) -> None:
    # The cost every payment pays: 5,000 PBKDF2 rounds, a few hundred times fewer than a password's
    # (measured per check in docs/security.md, 6.4.x PIN storage; a benchmark, not a timed test).
    algorithm, iterations, _salt, _hash = row(alice).pin_hash.split("$")
    assert (algorithm, int(iterations)) == ("paylane_pin_pbkdf2_sha256", 5_000)
    assert PBKDF2PasswordHasher.iterations >= 100 * int(iterations)


# --- Its rules --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "weak", ["0000", "1111", "99999", "777777", "1234", "12345", "123456", "0123", "6789", "9876", "98765", "3210"]
)
def test_trivial_pins_are_refused_as_weak(register: Callable[..., User], weak: str) -> None:
    user = register("wendy", pin=None)
    with pytest.raises(WeakPin):
        pins.pin_set(user=user, pin=weak)
    assert not PaymentPin.objects.filter(user_id=user.pk).exists()


@pytest.mark.parametrize("fine", ["4826", "7890", "1357", "90123", "482611", "1123", "0987"])
def test_other_pins_of_four_to_six_digits_are_taken(register: Callable[..., User], fine: str) -> None:
    user = register("fiona", pin=None)
    assert pins.pin_set(user=user, pin=f" {fine} ").kind is pins.PinChangeKind.SET
    assert pins.pin_try(user_id=user.pk, pin=fine).outcome is pins.PinOutcome.RIGHT


@pytest.mark.parametrize("malformed", ["123", "1234567", "12a4", "١٢٣٤", "12 34", 4826])
def test_a_malformed_pin_is_refused_for_its_form_and_never_counted(alice: User, malformed: object) -> None:
    with pytest.raises(ValidationFailed):
        pins.pin_set(user=alice, pin=malformed, current_pin=PIN)
    with pytest.raises(ValidationFailed):
        pins.pin_verify(user=alice, pin=malformed)
    with pytest.raises(PinRequired):
        pins.pin_verify(user=alice, pin="  ")
    assert row(alice).failures_in_a_row == 0


# --- Setting and changing it ------------------------------------------------------------------


def test_the_first_pin_needs_no_proof_and_a_change_needs_the_current_pin(register: Callable[..., User]) -> None:
    user = register("nia", pin=None)
    assert pins.pin_set(user=user, pin="4826").kind is pins.PinChangeKind.SET
    with pytest.raises(PinProofRequired):
        pins.pin_set(user=user, pin="5937")
    with pytest.raises(InvalidPin):
        pins.pin_set(user=user, pin="5937", current_pin="4827")
    assert row(user).failures_in_a_row == 1  # a wrong current PIN counts, as a payment's does
    with pytest.raises(ValidationFailed):
        pins.pin_set(user=user, pin="5937", current_pin="4826", code="123456")
    changed = pins.pin_set(user=user, pin="5937", current_pin="4826")
    assert changed == pins.PinChange(pins.PinChangeKind.CHANGED_WITH_PIN)
    assert row(user).failures_in_a_row == 0
    assert pins.pin_try(user_id=user.pk, pin="5937").outcome is pins.PinOutcome.RIGHT
    assert pins.pin_try(user_id=user.pk, pin="4826").outcome is pins.PinOutcome.WRONG


def test_a_change_with_a_code_sent_to_the_verified_number_works_and_ends_a_lockout(alice: User) -> None:
    for _ in range(5):
        pins.pin_try(user_id=alice.pk, pin="1357")
    assert row(alice).locked_until is not None

    assert pins.pin_code_send(user=alice) == "+919876543210"
    message = messages_to("+919876543210")[-1]
    assert "change your payment PIN" in message
    with pytest.raises(InvalidCode):
        pins.pin_set(user=alice, pin="5937", code=f"{(int(last_code('+919876543210')) + 1) % 10**6:06d}")
    changed = pins.pin_set(user=alice, pin="5937", code=last_code("+919876543210"))

    assert changed == pins.PinChange(pins.PinChangeKind.CHANGED_WITH_CODE, unlocked=True)
    assert (row(alice).failures_in_a_row, row(alice).locked_until) == (0, None)
    assert pins.pin_try(user_id=alice.pk, pin="5937").outcome is pins.PinOutcome.RIGHT
    with pytest.raises(CodeExpired):  # used once
        pins.pin_set(user=alice, pin="2468", code=last_code("+919876543210"))


def test_a_code_is_sent_only_to_a_verified_number_of_an_account_that_has_a_pin(register: Callable[..., User]) -> None:
    unverified = register("uma", verify=False)
    with pytest.raises(MobileNotVerified):
        pins.pin_code_send(user=unverified)
    without_pin = register("vic", pin=None)
    with pytest.raises(PinNotSet):
        pins.pin_code_send(user=without_pin)


def test_a_code_sent_before_the_number_changed_hands_does_not_change_the_pin(alice: User, bob: User) -> None:
    pins.pin_code_send(user=alice)
    code = last_code("+919876543210")
    # alice's verified number is no longer hers (say, an operator released it): the code proves nothing now.
    alice.profile.mobile_verified_at = None
    alice.profile.save()
    with pytest.raises(CodeExpired):
        pins.pin_set(user=alice, pin="5937", code=code)
    assert pins.pin_try(user_id=alice.pk, pin=PIN).outcome is pins.PinOutcome.RIGHT


# --- Trying it: the lockout -------------------------------------------------------------------


def test_five_wrong_pins_in_a_row_lock_payments_for_15_minutes_even_with_the_right_pin(
    alice: User, bob: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    tries = [pins.pin_try(user_id=alice.pk, pin="1357") for _ in range(5)]
    assert [t.outcome for t in tries] == [pins.PinOutcome.WRONG] * 4 + [pins.PinOutcome.LOCKED]
    assert [t.tries_left for t in tries[:4]] == [4, 3, 2, 1]
    assert tries[4].locked_now and tries[4].locked_until is not None
    assert timedelta(minutes=14, seconds=59) < tries[4].locked_until - timezone.now() <= timedelta(minutes=15)

    right = pins.pin_try(user_id=alice.pk, pin=PIN)
    assert (right.outcome, right.locked_now) == (pins.PinOutcome.LOCKED, False)
    with pytest.raises(PinLocked) as locked:
        payments.payment_send(sender=alice, pin=PIN, to_user_id=bob.pk, amount="5")
    assert 890 < locked.value.retry_after <= 900
    assert row(alice).failures_in_a_row == 5  # tries during the lock are not even compared

    later(monkeypatch, timedelta(minutes=14, seconds=58))
    assert pins.pin_try(user_id=alice.pk, pin=PIN).outcome is pins.PinOutcome.LOCKED
    later(monkeypatch, timedelta(minutes=15, seconds=1))
    payments.payment_send(sender=alice, pin=PIN, to_user_id=bob.pk, amount="5")
    assert balance_of(bob) == Decimal("5.00")
    assert (row(alice).failures_in_a_row, row(alice).locked_until) == (0, None)


def test_after_a_lock_ends_the_count_starts_again_from_zero(alice: User, monkeypatch: pytest.MonkeyPatch) -> None:
    for _ in range(5):
        pins.pin_try(user_id=alice.pk, pin="1357")
    later(monkeypatch, timedelta(minutes=16))
    first = pins.pin_try(user_id=alice.pk, pin="1357")
    assert (first.outcome, first.tries_left) == (pins.PinOutcome.WRONG, 4)


def test_a_right_pin_resets_the_count_of_wrong_ones_in_a_row(alice: User) -> None:
    for _ in range(4):
        pins.pin_try(user_id=alice.pk, pin="1357")
    assert pins.pin_try(user_id=alice.pk, pin=PIN).outcome is pins.PinOutcome.RIGHT
    assert row(alice).failures_in_a_row == 0
    assert pins.pin_try(user_id=alice.pk, pin="1357").tries_left == 4


def test_the_failure_limit_and_the_lock_are_settings(alice: User, settings: Any) -> None:
    settings.PAYLANE_PIN_FAILURE_LIMIT, settings.PAYLANE_PIN_LOCK_MINUTES = 2, 1
    assert pins.pin_try(user_id=alice.pk, pin="1357").outcome is pins.PinOutcome.WRONG
    locked = pins.pin_try(user_id=alice.pk, pin="1357")
    assert locked.outcome is pins.PinOutcome.LOCKED and locked.locked_until is not None
    assert locked.locked_until - timezone.now() <= timedelta(minutes=1)


def test_a_refusal_for_the_pin_records_nothing_in_the_ledger_and_moves_nothing(
    alice: User, bob: User, register: Callable[..., User]
) -> None:
    no_pin = register("carol", pin=None, balance="10.00")
    before = (Transaction.objects.count(), balance_of(alice), balance_of(bob))
    with pytest.raises(PinRequired):
        payments.payment_send(sender=alice, pin=None, to_user_id=bob.pk, amount="5")
    with pytest.raises(PinNotSet):
        payments.payment_send(sender=no_pin, pin=PIN, to_user_id=bob.pk, amount="5")
    for _ in range(4):
        with pytest.raises(InvalidPin):
            payments.payment_send(sender=alice, pin="1357", to_user_id=bob.pk, amount="5000")  # over the balance
    with pytest.raises(PinLocked):
        payments.payment_send(sender=alice, pin="1357", to_mobile="+919812345678", amount="5")
    with pytest.raises(PinLocked):
        payments.payment_send(sender=alice, pin=PIN, to_user_id=bob.pk, amount="5")
    # Not even a FAILED row for the amount over the balance: the PIN came first.
    assert (Transaction.objects.count(), balance_of(alice), balance_of(bob)) == before


# --- Racing -----------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_racing_wrong_pins_on_postgresql_cannot_get_more_than_five_tries(
    register: Callable[..., User], monkeypatch: pytest.MonkeyPatch
) -> None:
    user = register("mallory", balance="100.00")
    compared: list[str] = []
    match = pins.PIN_HASHER.match

    def counted(password: str, encoded: str) -> tuple[bool, bool]:
        compared.append(password)
        return match(password, encoded)

    monkeypatch.setattr(pins.PIN_HASHER, "match", counted)
    guesses = [f"{n:04d}" for n in range(1357, 1357 + 40 * 7, 7)]  # 40 different wrong PINs at once

    outcomes = race([lambda g=g: pins.pin_try(user_id=user.pk, pin=g) for g in guesses])

    assert not [o for o in outcomes if isinstance(o, BaseException)], outcomes
    assert len(compared) == 5  # five PINs were compared with the hash; every other try met the lock
    assert sorted(o.outcome.value for o in outcomes) == sorted(["wrong"] * 4 + ["locked"] * 36)
    assert sum(o.locked_now for o in outcomes) == 1
    assert row(user).failures_in_a_row == 5
