"""Passwords: change the one you know; reset the one you forgot with a code sent to your verified number.

Both end every credential the old password stood behind, in the commit that
sets the new one: every API token is deleted and, after COMMIT, every
websocket of the user closes with 4401 on every process
(``credentials.credentials_revoke_all``); every page session is refused from
its next request, because the password hash it carries no longer matches
(Django's session verification; the sockets check the same). A page that
changes the password keeps its own session (``update_session_auth_hash``, in
the view). When asked, one new API token is issued in the same commit: the
API answers with it. A security alert by SMS follows the commit.

Change (``password_change``): the current password is checked with Django's
``authenticate()``, so a wrong one counts against django-axes exactly as a
failed sign-in of that username from that address (five lock both out, for
this form and for sign-in alike); then Django's password validators, with the user.

Reset (``password_reset_request``, then ``password_reset_confirm`` with the
code). No answer tells whether a number has an account:

* A request is answered the same way for every well-formed number. Finding
  the account and sending the code are a task (``password_reset_code_send``)
  that runs after the answer (``project/tasks.py``), so the time the answer
  takes does not depend on them either. A code goes only to a number that an
  active account has verified.
* A confirmation for a number with no such account behaves as one whose code
  is wrong: after a request for that number a *decoy*
  (``wallets.models.PasswordResetDecoy``) stands in for the code, so the
  answer is ``invalid_code`` for ten minutes and five tries, then
  ``code_expired``, as for a real code; without a request, ``code_expired``,
  as for an account that asked for none. The decoy is locked, counted and
  committed with the statements a code is, so the time differs little too.
* The new password's rules are checked before the number is looked up,
  except the one that needs the account (not too like its username or name),
  which runs only once the code matched; refused there, the code stays unused.

Limits: requests and confirmations count against ``PAYLANE_PASSWORD_RESET_RATE``
per client address; requests also against ``PAYLANE_PASSWORD_RESET_NUMBER_RATE``
per number, counted for every well-formed number, with an account or not.
A code is six digits, lives ten minutes, is used once and is void after five
wrong tries (``wallets.accounts.codes``).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.tasks import task
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from wallets import ratelimit
from wallets.accounts import alerts, codes
from wallets.accounts.credentials import credentials_revoke_all
from wallets.accounts.tokens import token_add
from wallets.errors import (
    CodeExpired,
    InvalidCode,
    InvalidPassword,
    RateLimited,
    SmsUnavailable,
    ValidationFailed,
    WalletError,
)
from wallets.models import OneTimeCode, PasswordResetDecoy, Profile, User
from wallets.phone import mobile_normalize

logger = logging.getLogger(__name__)

PURPOSE = OneTimeCode.Purpose.PASSWORD_RESET


# --- Change ------------------------------------------------------------------------------------


@sensitive_variables("current_password", "new_password")
def password_change(
    *, request: HttpRequest, user: User, current_password: str, new_password: str, issue_token: bool
) -> str | None:
    """Set ``user``'s password to ``new_password`` if ``current_password`` is theirs; a new token if asked.

    ``request`` is the HTTP request, for django-axes only: a wrong current
    password is recorded as a failed sign-in of the user's name from its
    address, and a lockout refuses even the right one (``RateLimited``).
    Refusals: ``InvalidPassword``, ``RateLimited``, ``ValidationFailed``
    (``new_password``: Django's validators).

    Transaction: one, durable. Locks: the user's row. Side effects: the
    password, every API token deleted, one new token if ``issue_token``;
    after COMMIT, every socket of the user closed (4401) and an alert by SMS.
    Returns the new token, or None.
    """
    checked = authenticate(request, username=user.get_username(), password=current_password)
    if getattr(request, "axes_locked_out", False):
        cooloff = settings.AXES_COOLOFF_TIME
        raise RateLimited(
            f"Too many wrong passwords. Try again in {int(cooloff.total_seconds() // 60)} minutes.",
            retry_after=cooloff.total_seconds(),
            field="current_password",
        )
    if checked is None or checked.pk != user.pk:
        raise InvalidPassword()
    _validate(new_password, user=user)
    return _password_commit(
        user_id=user.pk, password=new_password, issue_token=issue_token, alert=alerts.password_changed
    )


# --- Reset -------------------------------------------------------------------------------------


def password_reset_request(*, mobile_number: str, client_ip: str | None) -> None:
    """Ask for a reset code for ``mobile_number``: it goes (after this returns) only if an active account verified it.

    The same for every well-formed number: two rate-limit hits, then one task
    queued. Refusals: ``InvalidMobile`` (not a number: a property of the text,
    not of any account), ``RateLimited`` (per address or per number).
    Transaction: none here; the task's (``codes.code_send``). Side effect:
    one SMS, from the task, if the number has an account.
    """
    _hit(ratelimit.PASSWORD_RESETS, client_ip or "unknown")
    mobile = mobile_normalize(mobile_number)
    _hit(ratelimit.PASSWORD_RESET_CODES, _number_key(mobile))
    password_reset_code_send.enqueue(mobile=mobile)


@task(backend="threads")
def password_reset_code_send(*, mobile: str) -> None:
    """The request's work, after its answer: a code to the account that verified ``mobile``, else a decoy.

    Transaction: ``codes.code_send``'s (the code, voiding the user's earlier
    reset codes), or the decoy's. Side effects: one SMS, or a decoy.
    """
    user_id = _account_for(mobile)
    if user_id is None:
        _decoy_set(mobile)
        return
    try:
        codes.code_send(user_id=user_id, purpose=PURPOSE, mobile=mobile)
    except SmsUnavailable:
        pass  # logged by code_send; the person may ask again


@sensitive_variables("code", "new_password")
def password_reset_confirm(
    *, mobile_number: str, code: str, new_password: str, client_ip: str | None, issue_token: bool
) -> str | None:
    """Set a new password for the account that verified ``mobile_number``, with the code sent to it.

    Refusals, in this order: ``RateLimited`` (per address), ``InvalidMobile``,
    ``ValidationFailed`` on ``new_password`` (the rules that need no account),
    ``InvalidCode`` / ``CodeExpired`` (also for a number with no account: see
    the module), ``ValidationFailed`` on ``new_password`` (not like the
    account's names; the code stays unused).

    Transaction: one, durable: the code used (or a wrong try counted: that
    commits too), the password, every API token deleted, one new if
    ``issue_token``. Locks: the code's row, the user's row. Side effects after
    COMMIT: every socket of the user closed (4401), an alert by SMS.
    Returns the new token, or None.
    """
    _hit(ratelimit.PASSWORD_RESETS, client_ip or "unknown")
    mobile = mobile_normalize(mobile_number)
    _validate(new_password, user=None)
    user_id = _account_for(mobile)
    if user_id is None:
        raise _decoy_refusal(mobile)
    match, token = _reset_commit(
        user_id=user_id, mobile=mobile, code=code, new_password=new_password, issue_token=issue_token
    )
    match.raise_if_refused()
    return token


@transaction.atomic(durable=True)
def _reset_commit(
    *, user_id: int, mobile: str, code: str, new_password: str, issue_token: bool
) -> tuple[codes.Match, str | None]:
    match = codes.code_match(user_id=user_id, purpose=PURPOSE, code=code)
    if match.outcome is not codes.Outcome.OK:
        return match, None  # a wrong try is counted: this transaction commits it
    if match.mobile != mobile:  # sent to a number this account no longer holds
        return codes.Match(codes.Outcome.EXPIRED), None
    user = User.objects.select_for_update().get(pk=user_id)
    # Raised inside the transaction: the code's use rolls back with it, and the person may try another password.
    _validate(new_password, user=user)
    return match, _password_set(user=user, password=new_password, issue_token=issue_token, alert=alerts.password_reset)


# --- Shared ------------------------------------------------------------------------------------


@transaction.atomic(durable=True)
def _password_commit(*, user_id: int, password: str, issue_token: bool, alert: Callable[[User], None]) -> str | None:
    user = User.objects.select_for_update().get(pk=user_id)
    return _password_set(user=user, password=password, issue_token=issue_token, alert=alert)


def _password_set(*, user: User, password: str, issue_token: bool, alert: Callable[[User], None]) -> str | None:
    """Inside the caller's transaction, with the user's row locked: the password, the revocations, the alert."""
    user.set_password(password)
    user.save(update_fields=["password"])
    credentials_revoke_all(user=user)
    token = token_add(user=user) if issue_token else None
    alert(user)
    return token


def _validate(password: str, *, user: User | None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages), field="new_password") from None


def _hit(limit: ratelimit.Limit, ident: str) -> None:
    decision = ratelimit.hit(limit, ident)
    if not decision.allowed:
        raise RateLimited(
            f"Too many password resets asked for. Try again in about {decision.retry_minutes} minute(s).",
            retry_after=decision.retry_after,
        )


def _account_for(mobile: str) -> int | None:
    """The active account that verified ``mobile`` (at most one: a partial unique index), or None."""
    found = Profile.objects.filter(
        mobile_number=mobile, mobile_verified_at__isnull=False, user__is_active=True
    ).values_list("user_id", flat=True)
    return next(iter(found), None)


def _number_key(mobile: str) -> str:
    """A number's name in the rate limits and the decoys: keyed, so they keep no list of the numbers people typed."""
    key = hashlib.sha256(f"paylane.password-reset:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, mobile.encode(), hashlib.sha256).hexdigest()[:32]


@transaction.atomic(durable=True)
def _decoy_set(mobile: str) -> None:
    """Void the number's earlier decoy and make a new one, live ten minutes: as ``codes.code_send`` does a code.

    Transaction: one, durable. Side effects: also deletes decoys that expired a
    day ago or more (the table keeps only what a confirmation may still meet).
    """
    now = timezone.now()
    key = _number_key(mobile)
    PasswordResetDecoy.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()
    PasswordResetDecoy.objects.filter(number_key=key, void=False).update(void=True)
    PasswordResetDecoy.objects.create(number_key=key, created_at=now, expires_at=now + codes.CODE_TTL)


@transaction.atomic(durable=True)
def _decoy_refusal(mobile: str) -> WalletError:
    """A confirmation for a number with no account: a wrong try of its decoy (``InvalidCode``), or ``CodeExpired``.

    The statements of ``codes.code_match`` for a wrong code: the live decoy
    locked, its wrong tries counted (void at the fifth), committed. Locks: the
    decoy's row.
    """
    live = (
        PasswordResetDecoy.objects.select_for_update()
        .filter(number_key=_number_key(mobile), void=False, expires_at__gt=timezone.now())
        .order_by("-id")
        .first()
    )
    if live is None:
        return CodeExpired()
    live.failed_attempts += 1
    live.void = live.failed_attempts >= codes.MAX_WRONG_TRIES
    live.save(update_fields=["failed_attempts", "void"])
    return InvalidCode()
