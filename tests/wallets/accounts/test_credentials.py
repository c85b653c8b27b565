"""The check a socket repeats: does its credential still authenticate its user? One statement, either kind."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from knox.models import AuthToken

from wallets.accounts.credentials import Credential, credential_is_valid
from wallets.accounts.tokens import token_authenticate, token_issue, token_revoke
from wallets.models import User


def token_credential(user: User) -> Credential:
    found = token_authenticate(key=token_issue(user=user))
    assert found is not None
    return found[1]


def signed_in(user: User) -> tuple[Client, Credential]:
    client = Client()
    client.force_login(user)
    return client, Credential("session", client.session.session_key or "")


def valid(user: User, credential: Credential) -> bool:
    return credential_is_valid(user_id=user.pk, credential=credential)


def test_a_live_token_is_valid_in_one_statement(alice: User) -> None:
    credential = token_credential(alice)
    valid(alice, credential)  # compiled on first use
    with CaptureQueriesContext(connection) as queries:
        assert valid(alice, credential)
    assert len(queries) == 1


def test_a_revoked_expired_or_foreign_token_or_an_inactive_users_is_not(alice: User, bob: User) -> None:
    revoked, expired, inactive = token_credential(alice), token_credential(alice), token_credential(alice)
    token_revoke(user=alice, credential=revoked)
    AuthToken.objects.filter(digest=expired.key).update(expiry=timezone.now() - timedelta(seconds=1))
    assert not valid(alice, revoked)
    assert not valid(alice, expired)
    assert not valid(bob, inactive)  # alice's token does not authenticate bob
    assert valid(alice, inactive)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert not valid(alice, inactive)


def test_a_signed_in_session_is_valid_in_one_statement(alice: User) -> None:
    _, credential = signed_in(alice)
    valid(alice, credential)
    with CaptureQueriesContext(connection) as queries:
        assert valid(alice, credential)
    assert len(queries) == 1


def test_a_signed_out_session_is_not(alice: User) -> None:
    client, credential = signed_in(alice)
    client.post("/logout/")
    assert not valid(alice, credential)


def test_a_session_is_not_after_a_password_change(alice: User) -> None:
    _, credential = signed_in(alice)
    alice.set_password("another good passphrase")
    alice.save()
    assert not valid(alice, credential)


def test_a_session_is_not_for_an_inactive_user_or_another_user(alice: User, bob: User) -> None:
    _, credential = signed_in(alice)
    assert not valid(bob, credential)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert not valid(alice, credential)


def test_an_expired_session_is_not(alice: User) -> None:
    _, credential = signed_in(alice)
    Session.objects.filter(session_key=credential.key).update(expire_date=timezone.now() - timedelta(seconds=1))
    assert not valid(alice, credential)


@pytest.mark.parametrize("make", [token_credential, lambda u: signed_in(u)[1]], ids=["token", "session"])
def test_a_credentials_name_never_contains_its_secret(alice: User, make: Callable[[User], Credential]) -> None:
    credential = make(alice)
    assert credential.name.startswith(f"{credential.kind}:")
    if credential.kind == "session":
        assert credential.key not in credential.name
    assert credential.key not in repr(credential)
