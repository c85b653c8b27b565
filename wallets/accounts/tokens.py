"""API tokens: django-rest-knox rows, hashed at rest, shown once.

A token is 64 hex characters (32 random bytes, knox's ``create_token_string``).
The database keeps its SHA-512 digest (knox's ``hash_token``, the primary key)
and its first 15 characters (``token_key``, which finds the row), never the
token: a person who reads the table or the admin cannot use what they see.
Each sign-in issues a new token, valid for ``PAYLANE_TOKEN_TTL``; revoking one
leaves the user's others working.

``token_authenticate`` runs on every Bearer request and websocket handshake:
one statement compiled once (ledger/statements.py) by ``token_key``, the digest
compared in constant time, the expiry and ``is_active`` checked, and no write.
knox's own authentication class is not used: it writes on use (auto-refresh)
and deletes the expired rows it meets; here expired rows are left to
``token_issue``, which removes the user's at their next sign-in.
"""

from __future__ import annotations

from hmac import compare_digest

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, transaction
from django.utils import timezone
from knox.crypto import hash_token
from knox.models import AuthToken, get_digest_token
from knox.settings import CONSTANTS

from ledger.statements import Statement
from wallets.accounts import alerts
from wallets.accounts.credentials import Credential, revoked_on_commit
from wallets.models import User

# knox's 64 characters, with room for a knox TOKEN_PREFIX; the tokens migrated
# from DRF's plaintext table are 40.
MAX_TOKEN_LENGTH = 64 + CONSTANTS.MAXIMUM_TOKEN_PREFIX_LENGTH

_USER_FIELDS = [f.attname for f in User._meta.concrete_fields]
_TOKEN_LOOKUP = Statement(
    # The user's wallet id too (a LEFT JOIN on its unique index): the API's permission (IsWalletHolder)
    # then needs no query of its own.
    lambda token_key: AuthToken.objects.filter(token_key=token_key, user__is_active=True).values_list(
        "digest", "expiry", "user__wallet__id", *(f"user__{name}" for name in _USER_FIELDS)
    ),
    token_key="\x00stand-in token key",
)


def token_authenticate(*, key: str) -> tuple[User, Credential] | None:
    """The active user a valid, unexpired API token belongs to, and the token as a credential; or None.

    A read: one statement, no write.
    """
    if not key or len(key) > MAX_TOKEN_LENGTH:
        return None
    # Hashed whether or not a row matches, so the time taken says nothing about the prefix.
    digest = hash_token(key)
    now = timezone.now()
    for row in _TOKEN_LOOKUP.rows(token_key=key[: CONSTANTS.TOKEN_KEY_LENGTH]):
        stored, expiry, wallet_id, *user_values = row
        if compare_digest(digest, stored) and (expiry is None or expiry > now):
            user = User.from_db(DEFAULT_DB_ALIAS, _USER_FIELDS, user_values)
            user.has_wallet = wallet_id is not None
            return user, Credential("token", stored)
    return None


@transaction.atomic(durable=True)
def token_issue(*, user: User) -> str:
    """A new API token for ``user``, valid for ``PAYLANE_TOKEN_TTL``: the only time it can be seen.

    Transaction: one, durable. Locks: none (the user's expired token rows, deleted).
    Side effects: deletes the user's expired tokens, inserts one row (its digest);
    after COMMIT, a security alert by SMS to the user's verified number.
    """
    token = token_add(user=user)
    alerts.api_token_issued(user)
    return token


def token_add(*, user: User) -> str:
    """``token_issue`` inside the caller's transaction, without its alert: the caller's own alert says why.

    Transaction: the caller's (a password change issues the one token that
    survives it in the same commit). Writes: as ``token_issue``.
    """
    AuthToken.objects.filter(user=user, expiry__lte=timezone.now()).delete()
    _, token = AuthToken.objects.create(user=user, expiry=settings.PAYLANE_TOKEN_TTL)
    return str(token)


@transaction.atomic(durable=True)
def tokens_issue_many(*, user_ids: list[int]) -> dict[int, str]:
    """A new token for each of ``user_ids`` (benchmarks sign in thousands of users at once).

    Transaction: one, durable. Locks: none. Side effects: bulk INSERTs of one row per user;
    no security alert (thousands of SMS for a benchmark's sign-ins would tell no one anything).
    """
    expiry = timezone.now() + settings.PAYLANE_TOKEN_TTL
    issued: dict[int, str] = {}
    rows = []
    for user_id in user_ids:
        digest, token = get_digest_token()
        issued[user_id] = token
        rows.append(
            AuthToken(digest=digest, token_key=token[: CONSTANTS.TOKEN_KEY_LENGTH], user_id=user_id, expiry=expiry)
        )
    AuthToken.objects.bulk_create(rows, batch_size=2000)
    return issued


def token_revoke(*, user: User, credential: Credential) -> None:
    """Revoke one API token of ``user``; their other tokens keep working.

    Transaction: the caller's if any, else autocommit; one DELETE. Locks: the
    token's row. Side effects: after COMMIT, a message naming this token to the
    user's group, published before this returns: every socket the token opened
    closes with 4401.
    """
    if credential.kind != "token":
        raise ValueError("token_revoke takes an API token's credential")
    AuthToken.objects.filter(user=user, digest=credential.key).delete()
    revoked_on_commit(user_id=user.pk, credential=credential)
