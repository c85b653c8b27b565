"""Fixtures for the real-time tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.live import Daphne, daphne, suite_redis_url
from wallets.models import User


@pytest.fixture
def carol(register: Callable[..., User]) -> User:
    return register("carol", balance="50.00")


@pytest.fixture(scope="session")
def servers(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daphne, Daphne]]:
    """Two daphne processes behind the suite's Redis, serving the test database: one service."""
    logs, redis_url = tmp_path_factory.mktemp("daphne"), suite_redis_url()
    with daphne(redis_url=redis_url, log_dir=logs) as one, daphne(redis_url=redis_url, log_dir=logs) as two:
        yield one, two
