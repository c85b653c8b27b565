"""One-time codes: six digits by SMS, stored as a keyed hash, ten minutes, one use, five tries.

``code_send`` makes a code, voids the user's earlier codes of the same purpose
and sends it within the request that asked (``wallets.accounts.sms``).
``code_match`` checks a code inside the caller's transaction, so that what the
code authorizes (verifying a number, changing a PIN, a new password) commits
with its use; a wrong try is counted in the same transaction, which the caller
commits before it answers. The stored hash is an HMAC keyed with
``SECRET_KEY``: a copy of the table alone does not give the codes back, even
by trying all million.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wallets.accounts.sms import sms_send
from wallets.errors import CodeExpired, InvalidCode, SmsUnavailable
from wallets.models import OneTimeCode

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
CODE_TTL = timedelta(minutes=10)
MAX_WRONG_TRIES = 5

_MESSAGES = {
    OneTimeCode.Purpose.VERIFY_MOBILE: "Your Paylane code to verify this number is {code}.",
    OneTimeCode.Purpose.PIN_CHANGE: "Your Paylane code to change your payment PIN is {code}.",
    OneTimeCode.Purpose.PASSWORD_RESET: "Your Paylane code to reset your password is {code}.",
}
_FOOTER = " It expires in 10 minutes. Never share it: Paylane staff will never ask for it."


def _hash(*, user_id: int, purpose: str, mobile: str, code: str) -> str:
    key = hashlib.sha256(f"paylane.one-time-code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{purpose}:{user_id}:{mobile}:{code}".encode(), hashlib.sha256).hexdigest()


def code_send(*, user_id: int, purpose: str, mobile: str) -> None:
    """Make a new code for ``purpose``, void the user's earlier ones, and send it to ``mobile`` now.

    Transaction: one, durable (the new code and the voiding). Side effect: one
    SMS, after the commit; ``SmsUnavailable`` if the backend failed (the code
    is kept: the person may ask again).
    """
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    now = timezone.now()
    with transaction.atomic(durable=True):
        OneTimeCode.objects.filter(user_id=user_id, purpose=purpose, used_at__isnull=True, void=False).update(void=True)
        OneTimeCode.objects.create(
            user_id=user_id,
            purpose=purpose,
            mobile_number=mobile,
            code_hash=_hash(user_id=user_id, purpose=purpose, mobile=mobile, code=code),
            created_at=now,
            expires_at=now + CODE_TTL,
        )
    try:
        sms_send(to=mobile, body=_MESSAGES[OneTimeCode.Purpose(purpose)].format(code=code) + _FOOTER)
    except Exception as exc:
        logger.warning("one-time code for user %s not sent: %r", user_id, type(exc).__name__)
        raise SmsUnavailable() from exc


class Outcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Match:
    outcome: Outcome
    # The number the code was sent to (when OK).
    mobile: str = ""

    def raise_if_refused(self) -> None:
        """Call after the caller's transaction committed, so a wrong try stays counted."""
        if self.outcome is Outcome.WRONG:
            raise InvalidCode()
        if self.outcome is Outcome.EXPIRED:
            raise CodeExpired()


def code_match(*, user_id: int, purpose: str, code: str) -> Match:
    """Check ``code`` against the user's live code for ``purpose``: use it up, or count a wrong try.

    Call inside the caller's durable transaction: the code's row is locked
    (``SELECT … FOR UPDATE``), so two tries of one code are decided one after
    the other and a code is used at most once. Writes: ``used_at`` on a match,
    ``failed_attempts`` (and ``void`` at the fifth) on a wrong try.
    """
    now = timezone.now()
    live = (
        OneTimeCode.objects.select_for_update()
        .filter(user_id=user_id, purpose=purpose, used_at__isnull=True, void=False, expires_at__gt=now)
        .order_by("-id")
        .first()
    )
    if live is None:
        return Match(Outcome.EXPIRED)
    given = (code or "").strip()
    expected = live.code_hash
    actual = _hash(user_id=user_id, purpose=purpose, mobile=live.mobile_number, code=given)
    if not hmac.compare_digest(expected, actual):
        live.failed_attempts += 1
        live.void = live.failed_attempts >= MAX_WRONG_TRIES
        live.save(update_fields=["failed_attempts", "void"])
        return Match(Outcome.WRONG)
    live.used_at = now
    live.save(update_fields=["used_at"])
    return Match(Outcome.OK, mobile=live.mobile_number)


def codes_prune(*, older_than: timedelta = timedelta(days=1)) -> int:
    """Delete the one-time codes that can no longer be used (used, void or expired) and are older than ``older_than``.

    A live code is never deleted, however old its row. Only their hashes were
    ever stored; the rows go once nothing can ask about them. Transaction: the
    ORM's own DELETE. Locks: none (``code_match`` locks live codes only).
    Returns how many went.
    """
    now = timezone.now()
    spent = Q(used_at__isnull=False) | Q(void=True) | Q(expires_at__lte=now)
    deleted, _ = OneTimeCode.objects.filter(spent, created_at__lt=now - older_than).delete()
    return deleted
