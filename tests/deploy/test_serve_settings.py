"""`make serve` refuses to start without its production settings, before it starts or installs anything."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.stack import BASE_DIR, SERVE

GOOD = {
    "SECRET_KEY": "a-production-secret-key-that-is-long-enough-for-check-deploy-0123456789",
    "DATABASE_URL": "postgres://paylane@127.0.0.1:5432/paylane",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
}


def serve_with(**changes: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", *GOOD, "PAYLANE_PROXY_COUNT")}
    env.update(GOOD)
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return subprocess.run(
        [sys.executable, str(SERVE)], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=30
    )


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        # The development .env beside manage.py holds a SECRET_KEY: it must not count.
        ({"SECRET_KEY": None}, "SECRET_KEY is not set in the environment"),
        ({"SECRET_KEY": "  "}, "SECRET_KEY is not set in the environment"),
        ({"DEBUG": "1"}, "DEBUG is on"),
        ({"DATABASE_URL": "sqlite:////tmp/paylane.sqlite3"}, "DATABASE_URL must name a PostgreSQL database"),
        ({"DATABASE_URL": None}, "DATABASE_URL must name a PostgreSQL database"),
        ({"REDIS_URL": None}, "REDIS_URL must name a Redis server"),
        ({"PAYLANE_PROXY_COUNT": "0"}, "PAYLANE_PROXY_COUNT='0'"),
        ({"PAYLANE_TLS_CERT": "/etc/hostname"}, "PAYLANE_TLS_CERT and PAYLANE_TLS_KEY go together"),
        ({"PORT": "http"}, "PORT must be a whole number"),
        ({"PORT": "8150", "PAYLANE_UPSTREAM_PORT": "8100"}, "fall among the workers' ports"),
    ],
    ids=lambda value: "-".join(f"{k}={v}" for k, v in value.items()) if isinstance(value, dict) else None,
)
def test_serve_refuses_to_start_without_production_settings(changes: dict[str, str | None], named: str) -> None:
    result = serve_with(**changes)
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr
    assert "starting" not in result.stdout  # nothing was started
    assert GOOD["SECRET_KEY"] not in result.stdout + result.stderr
