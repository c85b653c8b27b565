"""API tokens: hashed at rest, one per sign-in, an expiry, revoked one by one, found in one read."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from wallets.accounts.credentials import Credential
from wallets.accounts.tokens import token_authenticate, token_issue, token_revoke, tokens_issue_many
from wallets.models import User


def row_text(token: AuthToken) -> str:
    """Every column of the token's row as the database holds it."""
    values = AuthToken.objects.filter(pk=token.pk).values_list(*(f.attname for f in AuthToken._meta.concrete_fields))
    return repr(list(values))


def test_a_token_is_stored_hashed_so_its_row_does_not_contain_it(alice: User) -> None:
    token = token_issue(user=alice)
    (row,) = AuthToken.objects.filter(user=alice)
    assert len(token) == 64
    assert token not in row_text(row)
    assert token[15:] not in row_text(row)  # knox keeps only the first 15 characters, to find the row
    assert row.digest == hashlib.sha512(token.encode()).hexdigest()


def test_each_issue_is_a_new_token_and_every_one_of_them_works(alice: User) -> None:
    first, second = token_issue(user=alice), token_issue(user=alice)
    assert first != second
    assert AuthToken.objects.filter(user=alice).count() == 2
    for token in (first, second):
        found = token_authenticate(key=token)
        assert found is not None and found[0] == alice


def test_a_token_expires_after_the_configured_ttl(alice: User, settings: Any) -> None:
    settings.PAYLANE_TOKEN_TTL = timedelta(hours=2)
    before = timezone.now()
    token = token_issue(user=alice)
    row = AuthToken.objects.get(user=alice)
    assert before + timedelta(hours=2) <= row.expiry <= timezone.now() + timedelta(hours=2)

    AuthToken.objects.filter(pk=row.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert token_authenticate(key=token) is None


def test_the_default_ttl_is_thirty_days(settings: Any) -> None:
    assert settings.PAYLANE_TOKEN_TTL == timedelta(days=30)


def test_issuing_a_token_clears_the_users_expired_ones_and_only_theirs(alice: User, bob: User) -> None:
    token_issue(user=alice)
    token_issue(user=bob)
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    fresh = token_issue(user=alice)
    assert list(AuthToken.objects.filter(user=alice).values_list("token_key", flat=True)) == [fresh[:15]]
    assert AuthToken.objects.filter(user=bob).count() == 1


def test_revoking_one_token_leaves_the_others_working(alice: User) -> None:
    kept, revoked = token_issue(user=alice), token_issue(user=alice)
    found = token_authenticate(key=revoked)
    assert found is not None
    token_revoke(user=alice, credential=found[1])
    assert token_authenticate(key=revoked) is None
    assert token_authenticate(key=kept) is not None


@pytest.mark.parametrize(
    "key",
    ["", "nope", "x" * 500],
    ids=["empty", "unknown", "too-long"],
)
def test_unknown_tokens_find_nobody(alice: User, key: str) -> None:
    token_issue(user=alice)
    assert token_authenticate(key=key) is None


def test_a_token_with_the_right_first_characters_but_a_wrong_rest_finds_nobody(alice: User) -> None:
    token = token_issue(user=alice)
    assert token_authenticate(key=token[:15] + "0" * 49) is None


def test_an_inactive_users_token_finds_nobody(alice: User) -> None:
    token = token_issue(user=alice)
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert token_authenticate(key=token) is None


def test_the_lookup_is_one_select_and_writes_nothing(alice: User) -> None:
    token = token_issue(user=alice)
    token_authenticate(key=token)  # compiled on first use
    with CaptureQueriesContext(connection) as queries:
        found = token_authenticate(key=token)
    assert found is not None
    user, credential = found
    assert (user, credential) == (alice, Credential("token", hashlib.sha512(token.encode()).hexdigest()))
    assert len(queries) == 1
    assert queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_the_lookup_says_whether_the_user_has_a_wallet(alice: User, db: None) -> None:
    admin = User.objects.create_superuser("root", password="a long enough password")  # no wallet
    for user, has_wallet in ((alice, True), (admin, False)):
        found = token_authenticate(key=token_issue(user=user))
        assert found is not None and found[0].has_wallet is has_wallet


def test_a_bearer_request_asks_nothing_more_about_the_wallet_than_the_token_lookup_read(alice: User) -> None:
    """IsWalletHolder reads what the token's statement read: no query of its own on the wallet table."""
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token_issue(user=alice)}")
    client.get("/api/v1/transactions/")  # compiled on first use
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/api/v1/transactions/").status_code == 200
    assert [q["sql"] for q in queries if q["sql"].startswith('SELECT 1 AS "a" FROM "wallets_wallet"')] == []


def test_tokens_issued_in_bulk_work(register: Callable[..., User]) -> None:
    users = [register(f"user{n}") for n in range(3)]
    issued = tokens_issue_many(user_ids=[u.pk for u in users])
    for user in users:
        found = token_authenticate(key=issued[user.pk])
        assert found is not None and found[0] == user


# --- The admin ------------------------------------------------------------------------------


def test_the_admin_shows_tokens_without_a_usable_token_and_cannot_issue_one(admin_client: Client, alice: User) -> None:
    token = token_issue(user=alice)
    row = AuthToken.objects.get(user=alice)
    listing = admin_client.get(reverse("admin:knox_authtoken_changelist"))
    detail = admin_client.get(reverse("admin:knox_authtoken_change", args=[row.pk]))
    assert listing.status_code == detail.status_code == 200
    for page in (listing, detail):
        assert b"alice" in page.content
        assert token.encode() not in page.content
        assert token[15:].encode() not in page.content
    assert admin_client.get(reverse("admin:knox_authtoken_add")).status_code == 403


def test_deleting_a_token_in_the_admin_revokes_it(admin_client: Client, alice: User) -> None:
    kept, revoked = token_issue(user=alice), token_issue(user=alice)
    row = AuthToken.objects.get(token_key=revoked[:15])
    response = admin_client.post(reverse("admin:knox_authtoken_delete", args=[row.pk]), {"post": "yes"})
    assert response.status_code == 302
    assert token_authenticate(key=revoked) is None
    assert token_authenticate(key=kept) is not None


# --- The migration from DRF's plaintext tokens --------------------------------------------------


def test_the_migration_hashes_drf_plaintext_tokens_that_keep_working_and_drops_their_table(alice: User) -> None:
    migration = importlib.import_module("wallets.migrations.0004_api_tokens_hashed")
    legacy, old = "0123456789abcdef0123456789abcdef01234567", "fedcba9876543210fedcba9876543210fedcba98"
    created = timezone.now() - timedelta(days=2)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, user_id bigint NOT NULL, created timestamp"
            + (" with time zone" if connection.vendor == "postgresql" else "")
            + " NOT NULL)"
        )
        stamp = created if connection.vendor == "postgresql" else created.replace(tzinfo=None).isoformat(" ")
        long_ago = timezone.now() - timedelta(days=400)
        old_stamp = long_ago if connection.vendor == "postgresql" else long_ago.replace(tzinfo=None).isoformat(" ")
        cursor.execute(
            "INSERT INTO authtoken_token (key, user_id, created) VALUES (%s, %s, %s), (%s, %s, %s)",
            [legacy, alice.pk, stamp, old, alice.pk, old_stamp],
        )
    editor = SimpleNamespace(connection=connection, execute=lambda sql: connection.cursor().execute(sql))

    migration.tokens_to_knox(apps, editor)

    assert "authtoken_token" not in connection.introspection.table_names()
    found = token_authenticate(key=legacy)
    assert found is not None and found[0] == alice
    row = AuthToken.objects.get(user=alice)  # the one expired long ago is not carried over
    assert legacy not in row_text(row)
    assert abs(row.created - created) < timedelta(seconds=1)
    assert abs(row.expiry - (created + timedelta(days=30))) < timedelta(seconds=1)
    assert token_authenticate(key=old) is None
