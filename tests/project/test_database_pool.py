"""The PostgreSQL connection pool: connections PostgreSQL dropped are never handed out."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import psycopg_pool
import pytest
from django.db import connection

from wallets.accounts.tokens import token_authenticate, token_issue
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pool_of_one() -> Iterator[None]:
    """This process's pool shrunk to one connection, so the next checkout must reuse it."""
    options = connection.settings_dict["OPTIONS"]["pool"]
    connection.close()
    connection.close_pool()
    connection.settings_dict["OPTIONS"]["pool"] = {**options, "min_size": 1, "max_size": 1}
    yield
    connection.close()
    connection.close_pool()
    connection.settings_dict["OPTIONS"]["pool"] = options


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (pid,) = cursor.fetchone()
    return int(pid)


def test_a_pooled_connection_postgresql_dropped_is_replaced_before_a_request_uses_it(
    alice: User, pool_of_one: None
) -> None:
    # A PostgreSQL restart or failover, or an administrator, ends every pooled connection.
    dropped = backend_pid()
    connection.close()  # back to the pool, idle
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        # Waits until the backend has gone (up to 5 s): without the wait the next checkout could
        # come first and find the socket still quiet, as a request racing a restart can (503).
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [dropped])

    key = token_issue(user=alice)  # the next request's first query: no error

    found = token_authenticate(key=key)
    assert found is not None and found[0] == alice
    assert backend_pid() != dropped


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Each empty-query check the pool sends (psycopg_pool's ``check_connection``), by backend pid."""
    sent: list[int] = []
    original = psycopg_pool.ConnectionPool.check_connection

    def counted(conn: psycopg.Connection) -> None:
        sent.append(conn.info.backend_pid)
        original(conn)

    monkeypatch.setattr(psycopg_pool.ConnectionPool, "check_connection", staticmethod(counted))
    return sent


def test_a_live_idle_connection_is_handed_out_without_a_round_trip(
    alice: User, pool_of_one: None, checks: list[int]
) -> None:
    key = token_issue(user=alice)
    first = backend_pid()
    connection.close()  # back to the pool, idle and alive

    assert token_authenticate(key=key) is not None
    assert backend_pid() == first
    assert checks == []  # its socket had nothing to say: no empty query


def test_a_dropped_connection_is_found_by_its_socket_and_checked(
    alice: User, pool_of_one: None, checks: list[int]
) -> None:
    key = token_issue(user=alice)
    dropped = backend_pid()
    connection.close()
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s, 5000)", [dropped])  # returns once it is gone

    assert token_authenticate(key=key) is not None
    assert checks == [dropped]  # the goodbye on its socket sent it to the empty query, which failed
    assert backend_pid() != dropped
