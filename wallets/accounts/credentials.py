"""Credentials: a name for each, the check a socket repeats, and their revocation.

A websocket is authenticated once, at its handshake, and may stay open for
days. So every credential that can open one (an API token, a page session)
has a name the socket remembers, and ending a credential closes the sockets
it opened two ways:

* Fast: a message to the user's Channels group naming the credential, or all
  of the user's credentials (``realtime.notify.credentials_revoked``). It is
  published after COMMIT and before the revoking service returns, so before
  the revoking request answers: a transfer made after that answer is pushed
  after it, and Redis delivers both to each process in that order. Every
  socket of the user, on every process, gets it; those it names close with
  4401 and send nothing more.
* Slow: the socket checks its credential again (``credential_is_valid``, one
  statement) right after it joins its group (there as extra columns of the
  hello's own statement, ``check_columns``), on every ping and before every
  page of a resume. A revocation whose message was lost (Redis down) closes
  the socket at its next ping or resume.

A name never carries a usable secret: a token is named by its knox digest
(what the database stores anyway), a session by a SHA-256 of its key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, logout
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.db import transaction
from django.db.models import Exists, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from knox.models import AuthToken

from ledger.statements import Statement
from realtime import notify
from wallets.models import User


@dataclass(frozen=True)
class Credential:
    """What authenticated a request or a socket: an API token or a page session."""

    kind: Literal["token", "session"]
    # The token's knox digest, or the session key (a secret: never logged, never sent).
    key: str = field(repr=False)

    @property
    def name(self) -> str:
        """The credential's name in revocation messages: identifies it, cannot be used as it."""
        if self.kind == "token":
            return f"token:{self.key}"
        return f"session:{hashlib.sha256(self.key.encode()).hexdigest()}"


# --- The check a socket repeats (a read) ------------------------------------------------------

# Ping runs it on every socket every ~25 s: compiled once per database alias (ledger/statements.py).
_TOKEN_CHECK = Statement(
    lambda digest, user: AuthToken.objects.filter(digest=digest, user_id=user).values_list("expiry", "user__is_active"),
    digest="\x00stand-in digest",
    user=-1,
)


def _session_check_query(session_key: str, user: int) -> QuerySet[User, tuple[object, ...]]:
    session = Session.objects.filter(session_key=session_key)
    return User.objects.filter(pk=user).values_list(
        "password",
        "is_active",
        Subquery(session.values("session_data")),
        Subquery(session.values("expire_date")),
    )


_SESSION_CHECK = Statement(_session_check_query, session_key="\x00stand-in session key", user=-1)


def credential_is_valid(*, user_id: int, credential: Credential) -> bool:
    """Whether ``credential`` still authenticates ``user_id``, in one statement.

    A token: its row is there (not revoked), not expired, its user active. A
    session: its row is there (not signed out) and not expired, it is signed in
    as this user with a configured backend, its password hash still matches the
    user's (the password did not change since), and the user is active: what
    Django's ``get_user`` checks on every page request. Reads Django's database
    session table (the project's ``SESSION_ENGINE``).
    """
    if credential.kind == "token":
        tokens = _TOKEN_CHECK.rows(digest=credential.key, user=user_id)
        if not tokens:
            return False
        expiry, is_active = tokens[0]
        return token_check_passes(found=True, expiry=expiry, is_active=is_active)
    rows = _SESSION_CHECK.rows(session_key=credential.key, user=user_id)
    if not rows:
        return False
    return session_check_passes(user_id, *rows[0])


# --- The same check as columns of another statement (the websocket's hello) ----------------


def check_columns(credential_kind: str, key: Any, user: Any) -> list[Any]:
    """Columns that, added to a query on a row with a ``user_id`` (``user``: an ``OuterRef``), read the check's facts.

    Their values, in order, go to ``token_check_passes`` (a token) or
    ``session_check_passes`` (a session): the same decision as
    ``credential_is_valid``, from the same reads, in the caller's one statement.
    ``key`` is the token's digest or the session key.
    """
    users = User.objects.filter(pk=user)
    if credential_kind == "token":
        tokens = AuthToken.objects.filter(digest=key, user_id=user)
        return [Exists(tokens), Subquery(tokens.values("expiry")), Subquery(users.values("is_active"))]
    session = Session.objects.filter(session_key=key)
    return [
        Subquery(users.values("password")),
        Subquery(users.values("is_active")),
        Subquery(session.values("session_data")),
        Subquery(session.values("expire_date")),
    ]


def token_check_passes(*, found: object, expiry: datetime | None, is_active: object) -> bool:
    """A token's row was ``found``, its ``expiry`` (None: none) is ahead, and its user ``is_active``."""
    return bool(found) and bool(is_active) and (expiry is None or expiry > timezone.now())


def session_check_passes(
    user_id: int, password: str | None, is_active: object, session_data: str | None, expire_date: datetime | None
) -> bool:
    """What ``credential_is_valid`` decides for a session, from the user's and the session's columns."""
    if password is None or not is_active or session_data is None or expire_date is None:
        return False
    if expire_date <= timezone.now():
        return False
    session = SessionStore().decode(session_data)
    if (
        session.get(SESSION_KEY) != str(user_id)
        or session.get(BACKEND_SESSION_KEY) not in settings.AUTHENTICATION_BACKENDS
    ):
        return False
    session_hash = session.get(HASH_SESSION_KEY)
    if not session_hash:
        return False
    user = User(pk=user_id, password=password)
    hashes = [user.get_session_auth_hash(), *user.get_session_auth_fallback_hash()]
    return any(constant_time_compare(session_hash, expected) for expected in hashes)


# --- Revocations (writes) -------------------------------------------------------------------


def revoked_on_commit(*, user_id: int, credential: Credential | None) -> None:
    """After COMMIT (at once in autocommit), close the sockets of ``credential``, or of every credential of the user.

    The message is published synchronously, with a short timeout, before the
    caller goes on: see the module docstring for why the order matters.
    """
    name = credential.name if credential is not None else None
    transaction.on_commit(partial(notify.credentials_revoked, user_id=user_id, credential=name), robust=True)


def session_end(*, request: HttpRequest) -> None:
    """Sign the request's person out, and close every socket their session opened.

    Transaction: none of its own (Django's ``logout`` deletes the session row
    in autocommit). Locks: none. Side effects: Django's ``logout`` (session row
    deleted, ``user_logged_out`` signal, a new CSRF token), then a revocation
    message naming this session to the user's group, published before this returns.
    """
    user_id = request.user.pk if request.user.is_authenticated else None
    session_key = request.session.session_key
    logout(request)
    if user_id is not None and session_key:
        revoked_on_commit(user_id=user_id, credential=Credential("session", session_key))


def credentials_revoke_all(*, user: User) -> None:
    """End every credential of ``user``: their password changed, or the account was deactivated.

    Deletes the user's API tokens, and after COMMIT publishes one message that
    closes every socket of the user (4401) on every process. Sessions are left
    to Django, which refuses them on the next page request (the session's
    password hash no longer matches; an inactive user is nobody); sockets opened
    with them close on the message, or at the latest at their next ping or
    resume (``credential_is_valid`` checks the same).

    Transaction: the caller's if any (the admin's save: the tokens go, and the
    message leaves, only if the change that caused it commits), else autocommit;
    one DELETE. Locks: the user's token rows. Side effects: the message, after COMMIT.
    """
    AuthToken.objects.filter(user=user).delete()
    revoked_on_commit(user_id=user.pk, credential=None)
