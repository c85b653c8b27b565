"""The payment PIN: 4 to 6 digits asked for on every transfer, set, changed, checked and locked here.

Setting it the first time needs only the signed-in account; changing it needs
the current PIN or a code sent by SMS to the verified number (which also ends a
lockout: it is the "forgot my PIN" path). Trivial PINs (one digit repeated, a
run up or down such as 1234 or 9876) are refused.

Each try of the PIN is decided in a durable transaction of its own, under the
``PaymentPin`` row's lock: a locked account is refused before the PIN is even
compared; a wrong PIN is counted, and the ``PAYLANE_PIN_FAILURE_LIMIT``-th in a
row (default 5) locks payments for ``PAYLANE_PIN_LOCK_MINUTES`` (default 15),
even with the right PIN. Because every try waits for the one before it to
commit, racing wrong PINs cannot get more tries than the limit. The try commits
before the caller learns its outcome, so a refusal stays counted whatever the
caller does next.

Every function returns what happened (``PinTry``, ``PinChange``); the security
alerts ("PIN set, changed or locked", ``wallets.accounts.alerts``) are queued in
the transaction that makes the change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.hashers import PBKDF2PasswordHasher, make_password
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac
from django.views.decorators.debug import sensitive_variables

from ledger.statements import Statement
from wallets import ratelimit
from wallets.accounts import alerts, codes
from wallets.errors import (
    InvalidPin,
    MobileNotVerified,
    PinLocked,
    PinNotSet,
    PinProofRequired,
    PinRequired,
    RateLimited,
    ValidationFailed,
    WeakPin,
)
from wallets.models import OneTimeCode, PaymentPin, Profile, User

PIN_MIN_DIGITS = 4
PIN_MAX_DIGITS = 6
PURPOSE = OneTimeCode.Purpose.PIN_CHANGE
FORM_MESSAGE = f"A PIN is {PIN_MIN_DIGITS} to {PIN_MAX_DIGITS} digits."


class PinHasher(PBKDF2PasswordHasher):
    """Django's PBKDF2-SHA256 hasher, peppered and cheap enough to run on every transfer.

    A PIN has at most a million values, so no iteration count makes a stolen
    hash safe on its own: even Django's password count only stretches trying
    them all from minutes to hours per account, and the service would pay that
    count on every payment. The protection is elsewhere. The pepper: the PIN
    first goes through an HMAC keyed with a key derived from ``SECRET_KEY``
    (Django's ``salted_hmac``), so a copy of the table without the key gives
    nothing to try PINs against. The lockout: online, five wrong tries lock
    payments (``pin_try``). The salt and the few thousand iterations only slow
    down someone who holds both the table and the key; a check stays near a
    millisecond (measured in docs/security.md). The algorithm has a name of its
    own and is not in ``PASSWORD_HASHERS``, so a PIN hash never passes for a
    password, nor the other way round.

    ``SECRET_KEY_FALLBACKS`` are tried after ``SECRET_KEY``, so rotating the
    key does not lose every PIN; a PIN that matched under a fallback is hashed
    again under the current key at its next right try.
    """

    algorithm = "paylane_pin_pbkdf2_sha256"
    iterations = 5_000

    def encode(self, password: str, salt: str, iterations: int | None = None) -> str:
        return self._encode(password, salt, iterations, key=settings.SECRET_KEY)

    @sensitive_variables("password")
    def _encode(self, password: str, salt: str, iterations: int | None, *, key: str) -> str:
        peppered = salted_hmac("paylane.payment-pin", password, secret=key, algorithm="sha256").hexdigest()
        return super().encode(peppered, salt, iterations)

    def verify(self, password: str, encoded: str) -> bool:
        return self.match(password, encoded)[0]

    @sensitive_variables("password")
    def match(self, password: str, encoded: str) -> tuple[bool, bool]:
        """(right, must be hashed again): under ``SECRET_KEY``, then each of its fallbacks."""
        decoded = self.decode(encoded)
        salt, iterations = str(decoded["salt"]), int(decoded["iterations"])
        for index, key in enumerate([settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]):
            candidate = self._encode(password, salt, iterations, key=key)
            if constant_time_compare(encoded, candidate):
                return True, index > 0 or self.must_update(encoded)
        return False, False


PIN_HASHER = PinHasher()


@sensitive_variables("pin")
def pin_hash(pin: str) -> str:
    """``pin`` as stored: Django's ``make_password`` with ``PinHasher`` (a fresh salt each time)."""
    return make_password(pin, hasher=PIN_HASHER)


# --- The form of a PIN ------------------------------------------------------------------------


def _runs(step: int) -> set[str]:
    digits = "0123456789" if step > 0 else "9876543210"
    return {digits[i : i + n] for n in range(PIN_MIN_DIGITS, PIN_MAX_DIGITS + 1) for i in range(11 - n)}


# Every trivial PIN: one digit repeated, a run up or down (no wrap-around: 7890 is allowed).
WEAK_PINS = frozenset(
    {d * n for d in "0123456789" for n in range(PIN_MIN_DIGITS, PIN_MAX_DIGITS + 1)} | _runs(+1) | _runs(-1)
)


@sensitive_variables("pin")
def pin_parse(pin: object, *, field: str = "pin") -> str:
    """A PIN as typed: surrounding whitespace dropped; ``PinRequired`` if empty, ``ValidationFailed`` if malformed."""
    text = pin.strip() if isinstance(pin, str) else None
    if pin is None or text == "":
        raise PinRequired(field=field)
    if text is None or not (text.isascii() and text.isdigit()) or not PIN_MIN_DIGITS <= len(text) <= PIN_MAX_DIGITS:
        raise ValidationFailed(FORM_MESSAGE, field=field)
    return text


def pin_is_weak(pin: str) -> bool:
    return pin in WEAK_PINS


# --- Trying the PIN ---------------------------------------------------------------------------


class PinOutcome(enum.Enum):
    RIGHT = "right"
    WRONG = "wrong"
    LOCKED = "locked"
    NOT_SET = "not_set"


@dataclass(frozen=True)
class PinTry:
    """What one try of the PIN came to (committed before the caller sees it)."""

    outcome: PinOutcome
    # Wrong PINs still allowed before payments lock (after a WRONG try).
    tries_left: int = 0
    locked_until: datetime | None = None
    # This very try locked payments (the fifth wrong PIN in a row): an alert's moment.
    locked_now: bool = False

    def raise_if_refused(self) -> None:
        if self.outcome is PinOutcome.NOT_SET:
            raise PinNotSet()
        if self.outcome is PinOutcome.LOCKED:
            assert self.locked_until is not None
            raise PinLocked(
                _locked_message(self.locked_until, now=self.locked_now),
                locked_until=self.locked_until,
                locked_now=self.locked_now,
            )
        if self.outcome is PinOutcome.WRONG:
            left = self.tries_left
            raise InvalidPin(
                f"That PIN is not right. {left} more wrong PIN{'s' if left != 1 else ''} and payments lock for "
                f"{settings.PAYLANE_PIN_LOCK_MINUTES} minutes."
            )


def _locked_message(until: datetime, *, now: bool) -> str:
    local = timezone.localtime(until).strftime("%H:%M")
    first = "That PIN is not right, and that was too many wrong PINs in a row" if now else "Too many wrong PINs"
    return f"{first}: payments are locked until {local}, even with the right PIN. You can change your PIN with a code."


@sensitive_variables("pin")
def pin_try(*, user_id: int, pin: object) -> PinTry:
    """Try ``pin`` against the user's PIN, counting a wrong one; the outcome is committed when this returns.

    Transaction: one, durable. Locks: the user's ``PaymentPin`` row, for the
    comparison too (each try waits for the one before). Writes: the failure
    count and the lock, or their reset by a right PIN or an expired lock; a
    new hash when the stored one is due (iterations changed, an old key).
    Raises ``PinRequired`` or ``ValidationFailed`` for a PIN that is missing or
    malformed (not counted: it can never be right); every other outcome is
    returned, to be raised with ``raise_if_refused``.
    """
    return _try_commit(user_id=user_id, pin=pin_parse(pin))


def pin_verify(*, user: User, pin: object) -> PinTry:
    """``pin_try``, then its refusal raised (``PinNotSet``, ``InvalidPin``, ``PinLocked``), already counted."""
    tried = pin_try(user_id=user.pk, pin=pin)
    tried.raise_if_refused()
    return tried


_PIN_FIELDS = [f.attname for f in PaymentPin._meta.concrete_fields]
# Every payment runs it: compiled once per database alias (ledger/statements.py), as the
# transfer's and the token's statements are. One row at most: the user is the row's unique key.
_PIN_LOCK = Statement(
    lambda user_id: PaymentPin.objects.select_for_update().filter(user_id=user_id).values_list(*_PIN_FIELDS),
    user_id=-1,
)


@transaction.atomic(durable=True)
@sensitive_variables("pin", "new_hash")
def _try_commit(*, user_id: int, pin: str, new_hash: str | None = None) -> PinTry:
    found = _PIN_LOCK.rows(user_id=user_id)
    if not found:
        return PinTry(PinOutcome.NOT_SET)
    row = PaymentPin.from_db(DEFAULT_DB_ALIAS, _PIN_FIELDS, found[0])
    now = timezone.now()
    changed: list[str] = []
    if row.locked_until is not None:
        if row.locked_until > now:
            return PinTry(PinOutcome.LOCKED, locked_until=row.locked_until)
        row.locked_until, row.failures_in_a_row = None, 0  # the lock ended: a fresh count
        changed += ["locked_until", "failures_in_a_row"]
    right, rehash = PIN_HASHER.match(pin, row.pin_hash)
    if right:
        if row.failures_in_a_row:
            row.failures_in_a_row = 0
            changed.append("failures_in_a_row")
        if new_hash is not None:
            row.pin_hash, row.changed_at = new_hash, now
            changed += ["pin_hash", "changed_at"]
            alerts.pin_changed(User(pk=user_id))
        elif rehash:
            row.pin_hash = pin_hash(pin)
            changed.append("pin_hash")
        if changed:
            row.save(update_fields=sorted(set(changed)))
        return PinTry(PinOutcome.RIGHT)
    limit = settings.PAYLANE_PIN_FAILURE_LIMIT
    row.failures_in_a_row += 1
    changed.append("failures_in_a_row")
    if row.failures_in_a_row >= limit:
        row.locked_until = now + timedelta(minutes=settings.PAYLANE_PIN_LOCK_MINUTES)
        changed.append("locked_until")
    row.save(update_fields=sorted(set(changed)))
    if row.locked_until is not None:
        alerts.pin_locked(User(pk=user_id), until=row.locked_until)
        return PinTry(PinOutcome.LOCKED, locked_until=row.locked_until, locked_now=True)
    return PinTry(PinOutcome.WRONG, tries_left=limit - row.failures_in_a_row)


# --- Setting and changing it ------------------------------------------------------------------


class PinChangeKind(enum.Enum):
    SET = "set"  # the first PIN of the account
    CHANGED_WITH_PIN = "changed_with_pin"
    CHANGED_WITH_CODE = "changed_with_code"


@dataclass(frozen=True)
class PinChange:
    kind: PinChangeKind
    # A change with a code also ended a lockout that was in force.
    unlocked: bool = False


@sensitive_variables("pin", "current_pin", "code", "new_hash")
def pin_set(*, user: User, pin: object, current_pin: object = None, code: object = None) -> PinChange:
    """Set the user's first PIN, or change it with the current PIN or a code sent to the verified number.

    The new PIN is checked first (form, not trivial) and hashed before any lock
    is taken. First PIN: one durable transaction inserting the row (a racing
    first set loses on the primary key and then needs a proof like any
    change). With ``current_pin``: one try of it, as a payment's (``pin_try``:
    a wrong one counts towards the lockout, and a lockout refuses even the
    right one), and the new hash in the same transaction. With ``code``: the
    code is used (or a wrong try counted, ``codes.code_match``) and the new
    hash written, the failure count and any lock cleared, in one durable
    transaction; the code must have gone to the number the account has
    verified. Raises ``WeakPin``, ``PinProofRequired`` (a change without a proof),
    ``InvalidPin``, ``PinLocked``, ``InvalidCode``, ``CodeExpired``.
    """
    new_pin = pin_parse(pin)
    if pin_is_weak(new_pin):
        raise WeakPin()
    has_current, has_code = _given(current_pin), _given(code)
    if has_current and has_code:
        raise ValidationFailed("Give your current PIN or a code, not both.", field="current_pin")
    new_hash = pin_hash(new_pin)
    if not PaymentPin.objects.filter(user_id=user.pk).exists():
        try:
            with transaction.atomic(durable=True):
                PaymentPin.objects.create(user_id=user.pk, pin_hash=new_hash)
                alerts.pin_set(user)
        except IntegrityError:
            pass  # set a moment ago by another request: this one is a change, and needs a proof
        else:
            return PinChange(PinChangeKind.SET)
    if has_code:
        text = str(code).strip() if isinstance(code, str) else ""
        match, unlocked = _change_by_code_commit(user_id=user.pk, code=text, new_hash=new_hash)
        match.raise_if_refused()
        return PinChange(PinChangeKind.CHANGED_WITH_CODE, unlocked=unlocked)
    if not has_current:
        raise PinProofRequired()
    _try_commit(user_id=user.pk, pin=pin_parse(current_pin, field="current_pin"), new_hash=new_hash).raise_if_refused()
    return PinChange(PinChangeKind.CHANGED_WITH_PIN)


def _given(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


@transaction.atomic(durable=True)
@sensitive_variables("code", "new_hash")
def _change_by_code_commit(*, user_id: int, code: str, new_hash: str) -> tuple[codes.Match, bool]:
    match = codes.code_match(user_id=user_id, purpose=PURPOSE, code=code)
    if match.outcome is not codes.Outcome.OK:
        return match, False
    verified = Profile.objects.filter(user_id=user_id, mobile_verified_at__isnull=False).values_list(
        "mobile_number", flat=True
    )
    if match.mobile not in list(verified):  # sent to a number this account no longer has verified
        return codes.Match(codes.Outcome.EXPIRED), False
    row = PaymentPin.objects.select_for_update().get(user_id=user_id)
    unlocked = row.locked_until is not None and row.locked_until > timezone.now()
    row.pin_hash, row.changed_at = new_hash, timezone.now()
    row.failures_in_a_row, row.locked_until = 0, None
    row.save(update_fields=["pin_hash", "changed_at", "failures_in_a_row", "locked_until"])
    alerts.pin_changed(User(pk=user_id))
    return match, unlocked


def pin_code_send(*, user: User) -> str:
    """Send a code to change the PIN to the user's verified number; returns that number.

    Counts against ``PAYLANE_CODE_RATE`` (per user, shared with verification
    codes). Refused: ``MobileNotVerified`` (no verified number to send to),
    ``PinNotSet`` (the first PIN needs no code). Transaction: the code's own
    (``codes.code_send``). Side effect: one SMS.
    """
    decision = ratelimit.hit(ratelimit.CODES, user.pk)
    if not decision.allowed:
        raise RateLimited("Too many codes asked for. Wait a little and try again.", retry_after=decision.retry_after)
    profile = Profile.objects.get(user_id=user.pk)
    if not profile.mobile_verified or not profile.mobile_number:
        raise MobileNotVerified("Verify your mobile number first: the code to change a PIN goes to it.")
    if not PaymentPin.objects.filter(user_id=user.pk).exists():
        raise PinNotSet("You have no PIN yet: set one, no code needed.", field="")
    codes.code_send(user_id=user.pk, purpose=PURPOSE, mobile=profile.mobile_number)
    return profile.mobile_number


def pin_status(*, user_id: int) -> PaymentPin | None:
    """The user's PIN row (whether one is set, and any lock), or None."""
    return PaymentPin.objects.filter(user_id=user_id).first()
