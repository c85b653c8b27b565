"""Proving a mobile number: a code sent to it, typed back.

Until its number is verified a wallet moves no money (``MobileNotVerified``) and
cannot be paid (it answers exactly as an unregistered recipient). Several
accounts may claim one number; the first to verify it keeps it and every other
claim on it is released (their ``mobile_number`` becomes empty: they must
verify another). The partial unique index on verified numbers decides a race
between two verifications of one number.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from wallets import ratelimit
from wallets.accounts import codes
from wallets.errors import AlreadyVerified, MobileTaken, RateLimited, ValidationFailed
from wallets.models import OneTimeCode, Profile, User
from wallets.phone import mobile_normalize

PURPOSE = OneTimeCode.Purpose.VERIFY_MOBILE


def mobile_code_send(*, user: User, mobile_number: str | None = None) -> str:
    """Send a new verification code to the user's number, or first claim ``mobile_number`` instead.

    Counts against ``PAYLANE_CODE_RATE`` (per user). A verified number is not
    re-verified (``AlreadyVerified``); a number another account verified is
    ``MobileTaken``. Transaction: the claim (if any) and the code, each durable.
    Side effect: one SMS. Returns the number the code went to.
    """
    decision = ratelimit.hit(ratelimit.CODES, user.pk)
    if not decision.allowed:
        raise RateLimited("Too many codes asked for. Wait a little and try again.", retry_after=decision.retry_after)
    profile = Profile.objects.get(user_id=user.pk)
    if profile.mobile_verified:
        raise AlreadyVerified()
    if mobile_number:
        mobile = mobile_normalize(mobile_number)
        if Profile.objects.filter(mobile_number=mobile, mobile_verified_at__isnull=False).exists():
            raise MobileTaken()
        Profile.objects.filter(pk=profile.pk, mobile_verified_at__isnull=True).update(mobile_number=mobile)
    else:
        mobile = profile.mobile_number or ""
        if not mobile:
            raise ValidationFailed(
                "Another account verified your number first. Give a mobile number of your own.",
                field="mobile_number",
            )
    codes.code_send(user_id=user.pk, purpose=PURPOSE, mobile=mobile)
    return mobile


def mobile_verify(*, user: User, code: str) -> None:
    """Verify the user's number with the code sent to it.

    Transaction: one, durable: the code is used (or a wrong try counted), the
    profile marked verified, and every other unverified claim on the number
    released, together. Locks: the code's row, the user's profile. Raises
    ``InvalidCode``, ``CodeExpired`` (also when the number changed since the
    code was sent), ``MobileTaken`` (another account verified it first). A
    number already verified stays so, whatever the code: nothing to do.
    """
    if Profile.objects.filter(user_id=user.pk, mobile_verified_at__isnull=False).exists():
        return
    try:
        match = _verify_commit(user_id=user.pk, code=code)
    except IntegrityError:
        raise MobileTaken("Another account verified this number a moment ago.") from None
    match.raise_if_refused()


@transaction.atomic(durable=True)
def _verify_commit(*, user_id: int, code: str) -> codes.Match:
    match = codes.code_match(user_id=user_id, purpose=PURPOSE, code=code)
    if match.outcome is not codes.Outcome.OK:
        return match
    profile = Profile.objects.select_for_update().get(user_id=user_id)
    if profile.mobile_verified:
        return match
    if profile.mobile_number != match.mobile:  # the code proves a number this account no longer claims
        return codes.Match(codes.Outcome.EXPIRED)
    Profile.objects.filter(mobile_number=match.mobile, mobile_verified_at__isnull=True).exclude(pk=profile.pk).update(
        mobile_number=None
    )
    profile.mobile_verified_at = timezone.now()
    profile.save(update_fields=["mobile_verified_at"])
    return match
