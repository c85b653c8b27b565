"""A websocket handshake's database statements: the token lookup, then the hello with the credential's check.

The storm (``python -m bench sockets --storm``) pays every statement of a
handshake once per socket: the credential's re-check rides in the hello's
statement (``realtime.selectors.hello_if_valid``) instead of a round trip of
its own, and still decides as ``credential_is_valid`` does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.sessions.models import Session
from django.db import connection
from django.db.backends.utils import CursorWrapper
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from realtime import selectors
from tests.realtime.communicator import connected, run
from wallets.accounts.credentials import Credential
from wallets.accounts.tokens import token_authenticate, token_issue, token_revoke
from wallets.models import User, Wallet


@pytest.fixture
def statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every statement run from now on, on any thread and connection (the handshake's reads use executor threads)."""
    seen: list[str] = []
    lock = threading.Lock()
    execute = CursorWrapper.execute

    def counted(self: CursorWrapper, sql: str, params: Any = None) -> Any:
        with lock:
            seen.append(sql)
        return execute(self, sql, params)

    monkeypatch.setattr(CursorWrapper, "execute", counted)
    yield seen


def token_credential(user: User) -> Credential:
    found = token_authenticate(key=token_issue(user=user))
    assert found is not None
    return found[1]


def session_credential(user: User) -> Credential:
    client = Client()
    client.force_login(user)
    return Credential("session", client.session.session_key or "")


@pytest.mark.django_db(transaction=True)
def test_a_token_handshake_runs_two_statements_the_token_lookup_and_the_checked_hello(
    alice: User, statements: list[str]
) -> None:
    async def handshake() -> dict[str, Any]:
        comm, hello = await connected(alice)
        await comm.disconnect()
        return hello

    run(handshake)  # the statements compiled, the token issued
    token = token_issue(user=alice)
    statements.clear()

    async def again() -> dict[str, Any]:
        comm, hello = await connected([(b"authorization", f"Bearer {token}".encode())])
        await comm.disconnect()
        return hello

    hello = run(again)
    assert hello["user_id"] == alice.pk
    assert len(statements) == 2, statements


def test_the_checked_hello_is_one_statement_and_the_plain_hello(alice: User) -> None:
    for credential in (token_credential(alice), session_credential(alice)):
        selectors.hello_if_valid(user_id=alice.pk, credential=credential)  # compiled on first use
        with CaptureQueriesContext(connection) as queries:
            hello = selectors.hello_if_valid(user_id=alice.pk, credential=credential)
        assert len(queries) == 1, credential.kind
        assert hello == selectors.hello_for_user(user_id=alice.pk)


def test_the_checked_hello_refuses_what_credential_is_valid_refuses(alice: User, bob: User) -> None:
    revoked, expired, foreign, inactive = (token_credential(alice) for _ in range(4))
    token_revoke(user=alice, credential=revoked)
    AuthToken.objects.filter(digest=expired.key).update(expiry=timezone.now() - timedelta(seconds=1))
    signed_out, stale, other_password = (session_credential(alice) for _ in range(3))
    Session.objects.filter(session_key=signed_out.key).delete()
    Session.objects.filter(session_key=stale.key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert selectors.hello_if_valid(user_id=alice.pk, credential=inactive) is not None
    assert selectors.hello_if_valid(user_id=alice.pk, credential=other_password) is not None

    for credential in (revoked, expired, signed_out, stale):
        assert selectors.hello_if_valid(user_id=alice.pk, credential=credential) is None, credential
    assert selectors.hello_if_valid(user_id=bob.pk, credential=foreign) is None  # alice's token, bob's wallet
    User.objects.filter(pk=alice.pk).update(password=make_password("changed since"))
    assert selectors.hello_if_valid(user_id=alice.pk, credential=other_password) is None
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert selectors.hello_if_valid(user_id=alice.pk, credential=inactive) is None


def test_without_a_wallet_a_revoked_credential_is_still_refused_and_a_valid_one_is_an_error(alice: User) -> None:
    live, revoked = token_credential(alice), token_credential(alice)
    token_revoke(user=alice, credential=revoked)
    Wallet.objects.filter(user=alice).delete()
    assert selectors.hello_if_valid(user_id=alice.pk, credential=revoked) is None
    with pytest.raises(Wallet.DoesNotExist):
        selectors.hello_if_valid(user_id=alice.pk, credential=live)
