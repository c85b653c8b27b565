"""`make serve` refuses to start without its production settings, before it starts or installs anything."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from types import ModuleType

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


def serve_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("paylane_serve", SERVE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    # dataclasses look their module up by name.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("env", "location"),
    [
        ({"PORT": "8443", "PAYLANE_HTTP_PORT": "8080"}, "https://$host:8443$request_uri"),
        ({"PORT": "443", "PAYLANE_HTTP_PORT": "80"}, "https://$host$request_uri"),
        # compose.yaml: the image listens on 8443, clients reach it on 443.
        ({"PORT": "8443", "PAYLANE_HTTP_PORT": "8080", "PAYLANE_PUBLIC_PORT": "443"}, "https://$host$request_uri"),
    ],
)
def test_the_plain_http_listener_redirects_to_the_port_clients_use(env: dict[str, str], location: str) -> None:
    serve = serve_module()
    settings = serve.settings_from({**env, "HOST": "::", "PAYLANE_RUN_DIR": "/run/paylane"})
    block = serve.http_redirect(settings)
    assert f"listen [::]:{env['PAYLANE_HTTP_PORT']};" in block
    assert f"return 301 {location};" in block


def test_without_a_plain_http_port_there_is_no_plain_http_listener() -> None:
    serve = serve_module()
    assert serve.http_redirect(serve.settings_from({"PAYLANE_RUN_DIR": "/run/paylane"})) == ""


def test_serve_takes_redis_sentinels_instead_of_redis_url() -> None:
    # Past the Redis check: the next check (the port) is the one that stops it.
    result = serve_with(REDIS_URL=None, REDIS_SENTINELS="127.0.0.1:26379,127.0.0.1:26380", PORT="http")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "REDIS_URL must name" not in result.stderr and "PORT must be a whole number" in result.stderr


@pytest.mark.parametrize(("jobs", "concurrency"), [(None, "web=3"), ("0", "web=3,worker=0,scheduler=0")])
def test_serve_jobs_0_starts_no_task_worker_and_no_scheduler(jobs: str | None, concurrency: str) -> None:
    # A cluster runs one worker and one scheduler on one of its hosts (deploy/cluster/).
    serve = serve_module()
    env = {
        "PAYLANE_RUN_DIR": "/run/paylane",
        "PAYLANE_WEB_PROCESSES": "3",
        **({"PAYLANE_SERVE_JOBS": jobs} if jobs else {}),
    }
    command = serve.honcho_command(serve.settings_from(env))
    assert command[command.index("--concurrency") + 1] == concurrency
