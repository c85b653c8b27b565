"""Shared fixtures: state is built through the services, as a user would build it."""

from __future__ import annotations

import itertools
import os
import signal
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper as PostgresWrapper
from django.db.backends.sqlite3.base import DatabaseWrapper as SQLiteWrapper

from ledger import triggers
from tests.support.sms import last_code
from wallets import ratelimit, services
from wallets.accounts import pins, registration, signins, sms, verification
from wallets.models import User

if TYPE_CHECKING:
    from tests.support.live import RedisServer

# tests/cluster/ starts a whole cluster (deploy/cluster/) and kills its parts: only
# `make cluster-test` (PAYLANE_CLUSTER_TEST=1) collects it, never `make test`.
collect_ignore = [] if os.environ.get("PAYLANE_CLUSTER_TEST") else ["cluster"]

# --- Test set-up only: let Django's flush get past the append-only triggers --------------
# TransactionTestCase (transaction=True tests) empties every table with TRUNCATE
# (PostgreSQL) or DELETE (SQLite) after each test, which the ledger's triggers
# (and the same triggers on the wallets' admin sign-in record) refuse, as they
# should. The product's triggers stay as they are; only the test flush steps
# around them: PostgreSQL skips triggers for the flush transaction
# (session_replication_role, superuser), SQLite drops and re-creates them.


def _flush_past_triggers(original: Callable[..., list[str]]) -> Callable[..., list[str]]:
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):  # type: ignore[no-untyped-def]
        sql = original(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        # The ledger's tables, and the wallets' own append-only ones (with their unique keys).
        append_only = {**dict.fromkeys(triggers.APPEND_ONLY_TABLES), **signins.APPEND_ONLY_TABLES}
        protected = {t: keys for t, keys in append_only.items() if t in tables}
        if not sql or not protected:
            return sql
        if self.connection.vendor == "postgresql":
            return ["SET LOCAL session_replication_role = replica", *sql]
        drop = [s for t in protected for s in triggers.statements("sqlite", "append_only_reverse", t)]
        create = [
            s for t, keys in protected.items() for s in triggers.statements("sqlite", "append_only", t, keys=keys)
        ]
        return [*drop, *sql, *create]

    return sql_flush


for _ops in (PostgresWrapper.ops_class, SQLiteWrapper.ops_class):
    _ops.sql_flush = _flush_past_triggers(_ops.sql_flush)  # type: ignore[method-assign]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    skip = pytest.mark.skip(reason="PostgreSQL only: run `make test` with DATABASE_URL or local PostgreSQL")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# --- Domain fixtures ---------------------------------------------------------------------

PASSWORD = "correct horse battery staple"
# Every user the `register` fixture signs up has this payment PIN (the API's and pages' payments ask for it).
PIN = "4826"
_mobiles = itertools.count(9000000001)


def verified(user: User) -> User:
    """Verify ``user``'s number with the code sign-up sent it (the locmem outbox), as a person would."""
    verification.mobile_verify(user=user, code=last_code(user.profile.mobile_number or ""))
    user.profile.refresh_from_db()
    return user


@pytest.fixture
def register(db: None) -> Callable[..., User]:
    """``register("alice")`` signs up a user through the service, with a fresh mobile number, verifies
    the number with the code it was sent (``verify=False`` leaves it unverified) and sets the payment
    PIN ``PIN`` (``pin=None``: none)."""

    def make(
        username: str,
        *,
        mobile: str | None = None,
        balance: str | None = None,
        verify: bool = True,
        pin: str | None = PIN,
        first_name: str = "",
        last_name: str = "",
    ) -> User:
        user = registration.user_register(
            username=username,
            password=PASSWORD,
            mobile_number=mobile or f"+91{next(_mobiles)}",
            first_name=first_name,
            last_name=last_name,
        )
        if verify:
            verified(user)
        if pin is not None:
            pins.pin_set(user=user, pin=pin)
        if balance is not None:
            services.wallet_top_up(user=user, amount=balance)
        return user

    return make


@pytest.fixture
def alice(register: Callable[..., User]) -> User:
    return register("alice", mobile="+919876543210", balance="1000.00")


@pytest.fixture
def bob(register: Callable[..., User]) -> User:
    return register("bob", mobile="+919812345678")


def balance_of(user: User) -> Decimal:
    user.wallet.refresh_from_db()
    return user.wallet.balance


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of the test's own (never the machine's shared one), to stop, stall or restart."""
    from tests.support.live import RedisServer  # here: tests.support.live imports this module

    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            os.kill(server.proc.pid, signal.SIGCONT)  # a test may have stalled it (SIGSTOP)
        server.stop()


@pytest.fixture
def vendor() -> str:
    return connection.vendor


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    # Every test starts with no hits counted (the shared cache: Redis on the PostgreSQL pass).
    cache.clear()
    ratelimit.local_counters_clear()
    yield
    cache.clear()
    ratelimit.local_counters_clear()


@pytest.fixture(autouse=True)
def _sms_to_the_outbox(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    # Messages to phones go to wallets.accounts.sms.outbox (tests read codes there).
    settings.PAYLANE_SMS_BACKEND = "locmem"
    sms.outbox.clear()
    yield
    sms.outbox.clear()


IMMEDIATE = {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}


@pytest.fixture(autouse=True)
def _tasks_at_once(settings) -> None:  # type: ignore[no-untyped-def]
    # The outbox's tasks (alerts) stay rows of the database backend, as in production: a test that
    # wants them sent runs the worker (tests/jobs/support.py ``work_off``). Work done after the
    # answer on threads (the password-reset code) runs at once on the caller's thread, as Django's
    # docs advise for tests, so a test reads the outbox as soon as the call returns; the thread
    # backend itself is tested on its own (tests/project/test_tasks.py) and runs in every live daphne.
    settings.TASKS = {**settings.TASKS, "threads": IMMEDIATE}


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings) -> None:  # type: ignore[no-untyped-def]
    # PBKDF2's cost is the point in production and pure waiting in tests.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _admin_without_otp(settings) -> None:  # type: ignore[no-untyped-def]
    # The admin asks for a one-time code by default when DEBUG is off, as it is in tests; most
    # admin tests sign in with force_login (pytest-django's admin_client), which presents none.
    # Tests of the second factor turn it back on (tests/wallets/test_admin_otp.py).
    settings.PAYLANE_ADMIN_OTP = False
