"""Accounts and wallets.

The database holds each invariant a second time, behind the services'
friendly errors: a balance is never negative, a username is unique
regardless of case, a mobile number belongs to one account.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models import Value
from django.db.models.functions import Lower
from django.db.models.lookups import Exact
from django.utils import timezone

from ledger.models import AppendOnlyModel
from ledger.money import DECIMAL_PLACES, MAX_DIGITS, ZERO


class PaylaneUserManager(UserManager["User"]):
    def get_by_natural_key(self, username: str | None) -> User:
        """The user whose name matches regardless of case: how sign-in finds an account (pages, API, admin).

        Compared as the unique index compares (SQL ``LOWER`` on both sides), so
        the lookup is that index's and it cannot find two accounts.
        """
        return self.get(Exact(Lower("username"), Lower(Value(username or ""))))


class User(AbstractUser):
    objects: PaylaneUserManager = PaylaneUserManager()  # type: ignore[misc]
    # Not a column: whether the user has a wallet, when the statement that loaded this user read that
    # too (an API token's lookup, wallets.accounts.tokens); None when it did not.
    has_wallet: bool | None = None

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("username"), name="wallets_user_username_ci_unique"),
        ]


class Profile(models.Model):
    """A user's mobile number, and whether they proved it is theirs.

    Several accounts may register the same number until one of them verifies it
    with a code sent to it; that one keeps it, and every other account's claim
    on it is released (``mobile_number`` null: they must verify another). A
    verified number belongs to one account (a partial unique index).
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    # Null, not "": a released claim has no number, and the unique index must ignore it.
    mobile_number = models.CharField(  # noqa: DJ001
        max_length=20, null=True, blank=True, help_text="E.164, e.g. +919876543210"
    )
    mobile_verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["mobile_number"],
                condition=models.Q(mobile_verified_at__isnull=False),
                name="wallets_profile_verified_mobile_unique",
            ),
            models.CheckConstraint(
                condition=models.Q(mobile_verified_at__isnull=True) | models.Q(mobile_number__isnull=False),
                name="wallets_profile_verified_has_number",
            ),
        ]
        indexes = [models.Index(fields=["mobile_number"], name="wallets_profile_mobile")]

    def __str__(self) -> str:
        return f"{self.user} ({self.mobile_number or 'no number'})"

    @property
    def mobile_verified(self) -> bool:
        return self.mobile_verified_at is not None


class Wallet(models.Model):
    # A user with ledger rows cannot be deleted (the ledger PROTECTs them); one
    # without any has an empty wallet, which may go with the account.
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="wallet")
    balance = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=ZERO)
    # Counts the balance-changing ledger entries of this wallet: a gap is visible.
    version = models.PositiveBigIntegerField(default=0)
    # Per-wallet override of PAYLANE_DAILY_LIMIT; null means the default.
    daily_limit = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, null=True, blank=True)
    # Successful outgoing transfers on `spent_on` (a local date). Written only
    # under this row's lock, in the same transaction as the ledger entry, so it
    # always equals the ledger's sum for that day; verify_ledger checks it.
    spent_on = models.DateField(null=True, blank=True)
    spent_today = models.DecimalField(max_digits=MAX_DIGITS, decimal_places=DECIMAL_PLACES, default=ZERO)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="wallet_balance_non_negative"),
            models.CheckConstraint(condition=models.Q(spent_today__gte=0), name="wallet_spent_today_non_negative"),
            models.CheckConstraint(
                condition=models.Q(daily_limit__isnull=True) | models.Q(daily_limit__gte=0),
                name="wallet_daily_limit_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"Wallet of {self.user}"

    @property
    def effective_daily_limit(self) -> Decimal:
        return self.daily_limit if self.daily_limit is not None else settings.PAYLANE_DAILY_LIMIT


class IdempotencyKey(models.Model):
    """The stored outcome of a money-moving API call made with an ``Idempotency-Key``.

    Written only by ``wallets.idempotency`` inside the same transaction as the
    ledger row it answers for (a SUCCESS movement, or a FAILED attempt), so a key
    never exists without its movement, nor the movement without its key. The
    unique (user, key) index decides a race between retries: the second insert
    waits for the first transaction and then fails, rolling its movement back.
    """

    # No index of its own on either foreign key: every insert pays for each index of the table, and
    # these two serve no query. The unique (user, key) index below leads with user_id, so it serves
    # every lookup by user (and a user's deletion); nothing looks a key up by its ledger row, and
    # ledger rows are never deleted (their triggers refuse), so PROTECT never has to search.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=255)
    # Which endpoint the key was first used on, e.g. "transfer" or "top_up".
    endpoint = models.CharField(max_length=32)
    # SHA-256 of the request body as parsed JSON (canonical form), to spot a reused key.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    transaction = models.ForeignKey("ledger.Transaction", on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="wallets_idempotency_user_key_unique"),
        ]
        indexes = [models.Index(fields=["created_at"], name="wallets_idem_created_at")]

    def __str__(self) -> str:
        return f"{self.key} ({self.endpoint}, {self.status_code})"


class OneTimeCode(models.Model):
    """A six-digit code sent by SMS to prove a number, change a PIN or reset a password.

    Only a keyed hash of the code is stored (``wallets.accounts.codes``). A code
    expires 10 minutes after it is sent, is used once, and is void after five
    wrong tries or when a newer code of the same purpose is sent.
    """

    class Purpose(models.TextChoices):
        VERIFY_MOBILE = "verify_mobile", "verify a mobile number"
        PIN_CHANGE = "pin_change", "change the payment PIN"
        PASSWORD_RESET = "password_reset", "reset the password"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    # The number the code was sent to: it proves that number, not whatever the profile says later.
    mobile_number = models.CharField(max_length=20)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)
    void = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose", "-id"], name="wallets_code_user_purpose")]

    def __str__(self) -> str:
        return f"{self.purpose} code for user {self.user_id} ({self.mobile_number})"


class PaymentPin(models.Model):
    """A user's payment PIN (a keyed, salted hash) and its lockout: the second factor of every transfer.

    Written only by ``wallets.accounts.pins``, under this row's lock: each try
    of the PIN is decided after the one before it committed, so racing wrong
    PINs cannot get more tries than the limit. No row: no PIN set yet.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="payment_pin"
    )
    # Django's hasher format (``wallets.accounts.pins.PinHasher``): never the PIN itself.
    pin_hash = models.CharField(max_length=128)
    # Wrong PINs since the last right one (or the last lock ending); the limit locks payments.
    failures_in_a_row = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "payment PIN"

    def __str__(self) -> str:
        return f"payment PIN of user {self.user_id}"


class PasswordResetDecoy(models.Model):
    """What a password-reset code is to an account, this is to a number that has none.

    Written when a reset is asked for a number no active account verified
    (``wallets.accounts.passwords``), and tried, counted and voided exactly as
    a code is: ten minutes, void after five wrong tries or when a newer one is
    made. So a confirmation for that number answers as one with an account
    whose code is wrong, with the same statements and so about the same time.
    It holds no code (none was sent) and no number: a keyed hash of it.
    """

    number_key = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    void = models.BooleanField(default=False)

    class Meta:
        indexes = [
            models.Index(fields=["number_key", "-id"], name="wallets_decoy_number"),
            models.Index(fields=["expires_at"], name="wallets_decoy_expires"),
        ]

    def __str__(self) -> str:
        return f"password-reset decoy {self.number_key[:8]}…"


class AdminSignInReason(models.TextChoices):
    """Why an admin sign-in was refused (``AdminSignIn.reason``)."""

    # One answer to the typist for all three (no account enumeration); the record keeps the user if one matched.
    BAD_PASSWORD = "bad_password", "unknown user, wrong password or inactive account"
    NOT_STAFF = "not_staff", "right password, but not staff"
    LOCKED_OUT = "locked_out", "refused: django-axes' lockout was in force"
    OTP_MISSING = "otp_missing", "no one-time code checked (none typed, or no device chosen)"
    OTP_INVALID = "otp_invalid", "wrong, reused or throttled one-time code"
    OTP_NO_DEVICE = "otp_no_device", "staff without an authenticator device (admin_otp_add)"


class AdminSignIn(AppendOnlyModel):
    """One attempt to sign in to the admin, successful or not: an append-only record.

    Written only by ``wallets.accounts.signins.admin_signin_record``. Never the
    password or the code: who typed what name, whether it let them in, and if
    not why. Like the ledger it refuses UPDATE and DELETE in the ORM
    (``AppendOnlyModel``) and in the database (the ledger's triggers, installed
    on this table by migration 0006 and re-applied after every ``migrate``).
    """

    Reason = AdminSignInReason

    id = models.BigAutoField(primary_key=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # As typed, cut to the longest username: a failure may name no account at all.
    username = models.CharField(max_length=150)
    # The account the name matched (any case), when one did, even for a wrong password.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    succeeded = models.BooleanField()
    reason = models.CharField(max_length=16, choices=AdminSignInReason.choices, blank=True)
    # Whether a one-time code was verified: a success without one happened with PAYLANE_ADMIN_OTP off.
    otp_verified = models.BooleanField(default=False)
    client_ip = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        verbose_name = "admin sign-in"
        constraints = [
            # A success has no reason and a failure has one of the known ones.
            models.CheckConstraint(
                condition=models.Q(succeeded=True, reason="")
                | models.Q(succeeded=False, reason__in=AdminSignInReason.values),
                name="wallets_adminsignin_reason_matches_outcome",
            ),
            models.CheckConstraint(
                condition=models.Q(otp_verified=False) | models.Q(succeeded=True),
                name="wallets_adminsignin_otp_only_on_success",
            ),
        ]

    def __str__(self) -> str:
        outcome = "signed in" if self.succeeded else f"refused ({self.reason})"
        return f"{self.username} {outcome}"


# Money requests live in a room of their own; imported here so Django finds their models.
from wallets.request_models import MoneyRequest, RequestMute  # noqa: E402, F401
