"""The record of admin sign-ins: one append-only row per attempt (``wallets.models.AdminSignIn``).

The table is protected as the ledger's are: ``AppendOnlyModel`` in the ORM,
and in the database the ledger's own trigger SQL (``ledger.triggers``),
installed by migration ``wallets/0006`` with its SQL frozen in it and
re-applied after every ``migrate`` (``wallets.apps``). The ledger never learns
of the table: this module names it, with its unique keys, and hands both to
the ledger's functions. ``verify_ledger`` reports a missing trigger here
(``wallets/reconcile.py``); the test suite's flush steps around it
(``tests/conftest.py``).
"""

from __future__ import annotations

from django.db import transaction
from django.db.backends.base.base import BaseDatabaseWrapper

from ledger import triggers
from wallets.models import AdminSignIn, AdminSignInReason, User

# The wallets' append-only tables and each one's primary key and UNIQUE columns
# (what SQLite's no-replace trigger compares, as ledger.triggers.REPLACE_KEYS does for the ledger's).
APPEND_ONLY_TABLES: dict[str, tuple[str, ...]] = {
    AdminSignIn._meta.db_table: ("id",),
}

USERNAME_MAX = AdminSignIn._meta.get_field("username").max_length or 150


def append_only_triggers_ensure(connection: BaseDatabaseWrapper) -> None:
    """Re-apply the append-only triggers of every wallets table that exists (``post_migrate``).

    Idempotent: a table a later migration rebuilt (SQLite drops its triggers
    then) gets them back, one already protected is left as it is.
    """
    existing = set(connection.introspection.table_names())
    for table, keys in APPEND_ONLY_TABLES.items():
        if table in existing:
            triggers.install(connection, table, keys=keys)


@transaction.atomic(durable=True)
def admin_signin_record(
    *,
    username: str,
    user: User | None,
    reason: AdminSignInReason | None,
    otp_verified: bool = False,
    client_ip: str | None,
) -> AdminSignIn:
    """Append one admin sign-in: a success when ``reason`` is None, else a refusal and why.

    ``user`` is who signed in, or who the password was checked for; when it
    is None the account the typed name matches (any case), if one does, is
    recorded, so failures against an account show on it even when the
    password was wrong. ``username`` is kept as typed, cut to the longest
    username and without NUL characters (which PostgreSQL's text refuses);
    never the password or the code.

    Transaction: its own, durable, committed before the sign-in page answers,
    so a refused attempt is recorded although nothing else of it is kept.
    Locks: none (one read, one INSERT). Side effects: none.
    """
    username = username.replace("\x00", "\ufffd")[:USERNAME_MAX]
    if user is None and username:
        try:
            user = User.objects.get_by_natural_key(username)
        except User.DoesNotExist:
            pass
    return AdminSignIn.objects.create(
        username=username,
        user=user,
        succeeded=reason is None,
        reason=reason or "",
        otp_verified=otp_verified and reason is None,
        client_ip=client_ip,
    )
