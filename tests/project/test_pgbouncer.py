"""Through PgBouncer in transaction mode (Debian's 1.18): the race tests, the timeouts, nothing left in a session.

A private pgbouncer (tests/support/pgbouncer.py) with four server connections
in front of the test database, so the racing threads' transactions share
server connections the way an app host's do behind the cluster's PgBouncer.
This process's connections go through it configured as
``PAYLANE_DB_TRANSACTION_POOLING=1`` configures a web process: no ``-c``
options (PgBouncer refuses the startup parameter), client-side cursors, the
lock and statement timeouts set with ``SET LOCAL`` in each transaction.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection, transaction

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.support.live import Daphne, RedisServer, daphne
from tests.support.pgbouncer import PgBouncer, bouncer_for_tests, through_pgbouncer
from tests.wallets.api.test_idempotency import (
    test_racing_retries_of_one_top_up_add_money_exactly_once,
    test_racing_retries_of_one_transfer_move_money_exactly_once,
)
from tests.wallets.test_concurrency import (
    test_many_racing_transfers_keep_every_invariant,
    test_opposite_transfers_between_the_same_pair_do_not_deadlock,
    test_racing_transfers_under_the_daily_limit_succeed_exactly_as_far_as_the_limit_allows,
    test_two_racing_payments_never_spend_the_same_money_twice,
)
from tests.wallets.test_db_connection_lost import KillWaiters
from tests.wallets.test_db_connection_lost import post as post_with_headers
from tests.wallets.test_db_timeouts import HeldLock, post
from wallets.accounts.tokens import token_issue
from wallets.models import IdempotencyKey, User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("pgbouncer")]

# The race tests, collected again here: each runs with this module's `pgbouncer` fixture.
__all__ = [
    "test_many_racing_transfers_keep_every_invariant",
    "test_opposite_transfers_between_the_same_pair_do_not_deadlock",
    "test_racing_retries_of_one_top_up_add_money_exactly_once",
    "test_racing_retries_of_one_transfer_move_money_exactly_once",
    "test_racing_transfers_under_the_daily_limit_succeed_exactly_as_far_as_the_limit_allows",
    "test_two_racing_payments_never_spend_the_same_money_twice",
]


@pytest.fixture(scope="module")
def bouncer() -> Iterator[PgBouncer]:
    running = bouncer_for_tests()
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def pgbouncer(bouncer: PgBouncer, transactional_db: None, settings: object) -> Iterator[PgBouncer]:
    database = connection.settings_dict["NAME"]
    before = bouncer.transactions(database)
    with through_pgbouncer(bouncer, settings):
        yield bouncer
    # The test's work went through PgBouncer, not around it.
    assert bouncer.transactions(database) > before, bouncer.log()


def show(name: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SHOW {name}")
        return str(cursor.fetchone()[0])


def test_the_timeouts_hold_in_every_transaction_and_stay_out_of_the_session(pgbouncer: PgBouncer) -> None:
    with transaction.atomic():
        assert (show("lock_timeout"), show("statement_timeout")) == ("5s", "30s")
    # Outside a transaction: the server's own defaults, so nothing leaked to the server connection.
    assert (show("lock_timeout"), show("statement_timeout")) == ("0", "0")
    # verify_ledger's snapshot: SET TRANSACTION ISOLATION LEVEL still comes first (SET LOCAL takes no snapshot).
    call_command("verify_ledger", verbosity=0)


def test_iterator_reads_through_pgbouncer_with_client_side_cursors(
    register: Callable[..., User], pgbouncer: PgBouncer
) -> None:
    users = [register(f"u{i}", balance="10.00") for i in range(5)]
    assert connection.settings_dict["DISABLE_SERVER_SIDE_CURSORS"] is True
    ids = [entry.pk for entry in Transaction.objects.order_by("id").iterator(chunk_size=2)]
    assert len(ids) == len(users)
    out = io.StringIO()
    call_command("export_ledger", stdout=out)
    assert len(out.getvalue().splitlines()) == len(users) + 1  # the header, then one line per entry


@contextmanager
def _bounced(tmp_path: Path, pgbouncer: PgBouncer, *, lock_timeout: str, statement_timeout: str) -> Iterator[Daphne]:
    """A daphne whose database is reached through PgBouncer only, as an app host of the cluster."""
    redis = RedisServer(tmp_path)
    redis.start()
    env = {
        "DATABASE_URL": pgbouncer.url(connection.settings_dict["NAME"]),
        "PAYLANE_DB_TRANSACTION_POOLING": "1",
        "PAYLANE_DB_LOCK_TIMEOUT": lock_timeout,
        "PAYLANE_DB_STATEMENT_TIMEOUT": statement_timeout,
    }
    try:
        with daphne(redis_url=redis.url, log_dir=tmp_path, extra_env=env) as running:
            yield running
    finally:
        redis.stop()


@pytest.fixture
def bounced_server(tmp_path: Path, pgbouncer: PgBouncer) -> Iterator[Daphne]:
    with _bounced(tmp_path, pgbouncer, lock_timeout="300ms", statement_timeout="5s") as running:
        yield running


@pytest.fixture
def bounced_server_patient(tmp_path: Path, pgbouncer: PgBouncer) -> Iterator[Daphne]:
    """The same with a lock timeout long enough that a kill, not the timeout, ends a lock wait."""
    with _bounced(tmp_path, pgbouncer, lock_timeout="20s", statement_timeout="30s") as running:
        yield running


def test_through_pgbouncer_a_transfer_stuck_behind_a_held_lock_answers_503_busy(
    bounced_server: Daphne, alice: User, bob: User
) -> None:
    server = bounced_server
    headers = {"Authorization": f"Bearer {token_issue(user=alice)}", "Idempotency-Key": "stuck-1"}
    body = {"to_user_id": bob.pk, "amount": "10.00", "pin": PIN}

    with HeldLock(alice):  # SELECT ... FOR UPDATE in a transaction of this process, through PgBouncer too
        status, answer = post(server.http + "/api/v1/transfers/", body, headers)

    assert (status, answer["error"]["code"]) == (503, "busy")  # type: ignore[index]
    assert not IdempotencyKey.objects.exists()
    assert balance_of(bob) == Decimal("0.00")
    assert post(server.http + "/api/v1/transfers/", body, headers)[0] == 201
    assert balance_of(bob) == Decimal("10.00")
    server.assert_no_traceback()


def test_through_pgbouncer_a_transfer_whose_server_backend_is_killed_answers_503_database_unavailable(
    bounced_server_patient: Daphne, alice: User, bob: User
) -> None:
    """The server backend under PgBouncer terminated mid-transaction: PgBouncer passes its 57P01 on to the client
    (a server that dies without a word, e.g. SIGKILLed, is "server conn crashed?", 08P01: both classified alike,
    tests/wallets/test_database_unavailable.py)."""
    server = bounced_server_patient
    headers = {"Authorization": f"Bearer {token_issue(user=alice)}", "Idempotency-Key": "crashed-1"}
    body = {"to_user_id": bob.pk, "amount": "10.00", "pin": PIN}
    url = server.http + "/api/v1/transfers/"

    with KillWaiters(alice) as killer:
        status, answer_headers, answer = post_with_headers(url, body, headers)

    assert killer.killed
    assert (status, answer["error"]["code"]) == (503, "database_unavailable")  # type: ignore[index]
    assert answer_headers["Retry-After"] == "1"
    assert not IdempotencyKey.objects.exists()
    assert balance_of(bob) == Decimal("0.00")
    assert post_with_headers(url, body, headers)[0] == 201
    assert balance_of(bob) == Decimal("10.00")
    server.assert_no_traceback()


def test_pgbouncer_refuses_the_connection_options_the_timeouts_use_without_transaction_pooling(
    pgbouncer: PgBouncer,
) -> None:
    # Why PAYLANE_DB_TRANSACTION_POOLING exists: without it the web processes pass their timeouts as
    # `-c` options, and Debian's PgBouncer 1.18 refuses every such connection.
    url = pgbouncer.url(connection.settings_dict["NAME"])
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter"):
        psycopg.connect(url, options="-c lock_timeout=5s", connect_timeout=5).close()
    assert show("lock_timeout") == "0"  # while this process's connections, without options, go through
