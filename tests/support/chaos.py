"""Chaos helpers shared by the reliability tests: a daphne that can be SIGKILLed and restarted.

Built on ``tests.support.live`` (how the suite starts daphne against the test
database). Every process started here is killed by its own pid.
"""

from __future__ import annotations

import signal
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from tests.support.live import Daphne, daphne, tests_database_url


def suite_redis_url() -> str:
    layer: Any = settings.CHANNEL_LAYERS["default"]
    config: dict[str, Any] = layer.get("CONFIG", {})
    hosts = config.get("hosts")
    assert hosts, "chaos tests need REDIS_URL (the PostgreSQL + Redis pass)"
    return str(hosts[0]["address"])


class KillableDaphne:
    """A daphne on a fixed loopback port: ``kill()`` SIGKILLs it, ``start()`` brings it back on that port.

    Its database connections carry ``application_name`` so a test can terminate exactly those.
    """

    def __init__(self, *, log_dir: Path, application_name: str, extra_env: dict[str, str] | None = None) -> None:
        self.log_dir = log_dir
        self.env = {"DATABASE_URL": f"{tests_database_url()}?application_name={application_name}", **(extra_env or {})}
        self.port = 0
        self.server: Daphne | None = None
        self._cm: AbstractContextManager[Daphne] | None = None

    def start(self) -> Daphne:
        self._cm = daphne(redis_url=suite_redis_url(), log_dir=self.log_dir, extra_env=self.env, port=self.port)
        self.server = self._cm.__enter__()
        self.port = self.server.port
        return self.server

    def kill(self) -> None:
        """SIGKILL: no graceful shutdown, requests in flight die with it."""
        assert self.server is not None and self._cm is not None
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait(10)
        self._cm.__exit__(None, None, None)
        self.server = self._cm = None

    def stop(self) -> None:
        if self._cm is not None:
            self._cm.__exit__(None, None, None)
            self.server = self._cm = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/wallet/"


def terminate_backends(application_name: str) -> int:
    """``pg_terminate_backend`` every connection named ``application_name``; how many went."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            [application_name],
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0
