"""``/healthz`` and ``/readyz``: what a load balancer or an orchestrator asks (docs/operations.md "Health").

The failures are real: a migration whose record is gone, a daphne whose
database does not answer, a private redis-server stopped under a live daphne.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from project.observability.health import migrations_on_disk
from tests.project.test_settings import manage
from tests.support.chaos import suite_redis_url
from tests.support.live import RedisServer, daphne, free_port


def get(url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(url, timeout=15) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


@pytest.mark.django_db
def test_healthz_answers_200_without_touching_the_database(client: Client, django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_readyz_answers_200_when_the_database_answers_and_every_migration_is_applied(
    client: Client, settings: Any
) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
    # Redis is checked exactly where the service uses it.
    assert ("redis" in body["checks"]) == bool(settings.REDIS_URL)
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db(transaction=True)
def test_readyz_answers_503_naming_a_migration_that_is_not_applied(client: Client) -> None:
    app, name = max(m for m in migrations_on_disk() if m[0] == "ledger")
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM django_migrations WHERE app = %s AND name = %s", [app, name])
    try:
        response = client.get("/readyz")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO django_migrations (app, name, applied) VALUES (%s, %s, CURRENT_TIMESTAMP)", [app, name]
            )
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable" and body["failed"] == ["migrations"]
    assert f"{app}.{name}" in body["checks"]["migrations"]
    assert body["checks"]["database"] == "ok"
    assert client.get("/readyz").status_code == 200


def test_in_production_the_probes_and_the_scrape_are_answered_over_plain_http_not_redirected(tmp_path: Path) -> None:
    # DEBUG=0 redirects every plain-HTTP request to HTTPS; a probe or a scraper talks to the process itself.
    code = (
        "from django.test import Client; c = Client();"
        "print(*(c.get(p).status_code for p in ['/healthz', '/readyz', '/metrics', '/']))"
    )
    result = manage(
        "shell",
        "-v",
        "0",
        "-c",
        code,
        DEBUG="0",
        SECRET_KEY="x" * 64,
        ALLOWED_HOSTS="testserver",
        SQLITE_PATH=str(tmp_path / "empty.sqlite3"),  # never migrated: /readyz must say so, not redirect
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["200", "503", "200", "301"]


@pytest.mark.django_db(transaction=True)
def test_readyz_answers_503_naming_the_database_when_it_does_not_answer(tmp_path: Path) -> None:
    # A daphne whose database is a closed port: the process is alive, it cannot serve.
    nowhere = f"postgres://postgres@127.0.0.1:{free_port()}/paylane"
    # A short pool timeout: the check's threads give up (and the server stops) at once.
    env = {"DATABASE_URL": nowhere, "PAYLANE_DB_POOL_TIMEOUT": "1"}
    with daphne(redis_url="", log_dir=tmp_path, extra_env=env) as server:
        assert get(server.http + "/healthz") == (200, {"status": "ok"})
        status, body = get(server.http + "/readyz")
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["failed"] == ["database", "migrations"]  # the migrations cannot be read either
    assert "connection" in body["checks"]["database"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_readyz_answers_503_naming_redis_while_it_is_down_and_200_once_it_is_back(tmp_path: Path) -> None:
    suite_redis_url()  # the PostgreSQL + Redis pass
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with daphne(redis_url=redis.url, log_dir=tmp_path) as server:
            assert get(server.http + "/readyz")[0] == 200
            redis.stop()
            status, body = get(server.http + "/readyz")
            assert status == 503, body
            assert body["failed"] == ["redis"]
            assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
            assert get(server.http + "/healthz")[0] == 200  # alive, just not ready
            redis.start()
            assert get(server.http + "/readyz")[0] == 200
    finally:
        redis.stop()
