"""The PostgreSQL connection pool: connections PostgreSQL dropped are never handed out."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
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
        admin.execute("SELECT pg_terminate_backend(%s)", [dropped])

    key = token_issue(user=alice)  # the next request's first query: no error

    found = token_authenticate(key=key)
    assert found is not None and found[0] == alice
    assert backend_pid() != dropped
