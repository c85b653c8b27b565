"""Signing up: a user, their profile (mobile number, unverified) and an empty wallet, then a code to the number."""

from __future__ import annotations

import logging

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from wallets.accounts import codes
from wallets.errors import MobileTaken, SmsUnavailable, UsernameTaken, ValidationFailed
from wallets.models import OneTimeCode, Profile, User, Wallet
from wallets.phone import mobile_normalize

logger = logging.getLogger(__name__)

NAME_MAX_LENGTH = 150


def user_register(
    *, username: str, password: str, mobile_number: str, first_name: str = "", last_name: str = ""
) -> User:
    """Create a user, their profile and an empty wallet, all or nothing; then send a code to the number.

    Transaction: one, durable. Locks: none beyond the unique indexes, which
    decide a race between two sign-ups for the same username. A number that
    another account has *verified* is taken; one only registered (unverified)
    may be claimed again: the first to verify it keeps it. Side effect: a
    verification code by SMS after the commit (a failure to send is logged;
    the person can ask for another). Raises ``ValidationFailed`` subclasses
    naming the field.
    """
    username = (username or "").strip()
    if not username:
        raise ValidationFailed("Choose a username.", field="username")
    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="username") from None
    max_length = User._meta.get_field("username").max_length or 150
    if len(username) > max_length:
        raise ValidationFailed(f"That username is too long ({max_length} characters at most).", field="username")
    first, last = name_part_clean(first_name, "first_name"), name_part_clean(last_name, "last_name")
    mobile = mobile_normalize(mobile_number)
    user = User(username=username, first_name=first, last_name=last)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="password") from None
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken()
    if Profile.objects.filter(mobile_number=mobile, mobile_verified_at__isnull=False).exists():
        raise MobileTaken()
    user.set_password(password)
    try:
        user = _register_commit(user=user, mobile=mobile)
    except IntegrityError:
        # A concurrent sign-up won the race for the username.
        raise UsernameTaken() from None
    try:
        codes.code_send(user_id=user.pk, purpose=OneTimeCode.Purpose.VERIFY_MOBILE, mobile=mobile)
    except SmsUnavailable:
        logger.warning("sign-up of user %s: verification code not sent; they can ask for another", user.pk)
    return user


def name_part_clean(value: str | None, field: str) -> str:
    """A first or last name as stored: runs of whitespace made one space, at most 150 characters."""
    text = " ".join((value or "").split())
    if len(text) > NAME_MAX_LENGTH:
        raise ValidationFailed(f"At most {NAME_MAX_LENGTH} characters.", field=field)
    return text


@transaction.atomic(durable=True)
def _register_commit(*, user: User, mobile: str) -> User:
    user.save()
    Profile.objects.create(user=user, mobile_number=mobile)
    Wallet.objects.create(user=user)
    return user
