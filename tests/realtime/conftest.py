"""Fixtures for the real-time tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from channels.layers import get_channel_layer
from channels_redis.core import ChannelLock, RedisChannelLayer
from django.conf import settings

from tests.support.live import Daphne, daphne
from wallets.models import User


@pytest.fixture(autouse=True)
def _receive_locks_of_one_loop() -> Iterator[None]:
    """Test-only: every communicator test runs in a new event loop, daphne runs one forever.

    channels-redis keeps per-channel receive locks (asyncio.Lock, bound to the
    loop that used them) on the shared layer; a backup cleaner still pending when
    a test's loop ends leaves one locked, and the next test's loop then fails with
    "bound to a different event loop". Start each test with fresh ones.
    """
    yield
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        layer.receive_clean_locks = ChannelLock()
        layer.receive_cleaners = []


@pytest.fixture
def carol(register: Callable[..., User]) -> User:
    return register("carol", balance="50.00")


@pytest.fixture(scope="session")
def servers(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Daphne, Daphne]]:
    """Two daphne processes behind the suite's Redis, serving the test database: one service."""
    hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts")
    assert hosts, "end-to-end tests need REDIS_URL (the PostgreSQL + Redis pass)"
    logs, redis_url = tmp_path_factory.mktemp("daphne"), hosts[0]["address"]
    with daphne(redis_url=redis_url, log_dir=logs) as one, daphne(redis_url=redis_url, log_dir=logs) as two:
        yield one, two
