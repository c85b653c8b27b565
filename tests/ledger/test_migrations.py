"""Migrations are history: the trigger SQL a migration applies is frozen in it, never read from ledger/sql."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from ledger import triggers
from tests.support import live

pytestmark = pytest.mark.django_db(transaction=True)

# What migrations 0003, 0004 and 0006 install, whatever a later table rebuild on SQLite drops again.
MIGRATED = {
    "postgresql": {f"{t}_{k}" for t in triggers.APPEND_ONLY_TABLES for k in ("append_only", "no_truncate")}
    | {"paylane_refuse_change"},
    "sqlite": {f"{t}_{k}" for t in triggers.APPEND_ONLY_TABLES for k in ("no_update", "no_delete", "no_replace")},
}


def live_sql_marked(tmp_path: Path) -> Path:
    """A copy of ledger/sql whose every message says "(live)"."""
    marked = tmp_path / "sql"
    shutil.copytree(triggers.SQL_DIR, marked)
    for path in marked.rglob("*.sql"):
        path.write_text(path.read_text().replace("is refused", "is refused (live)"))
    return marked


def migrate_from_zero(tmp_path: Path, sql_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SQLITE_PATH")}
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(tmp_path / "history.sqlite3")
    else:
        scratch = f"{connection.settings_dict['NAME']}_history"
        with connection.cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
            cursor.execute(f"CREATE DATABASE {scratch}")
        env["DATABASE_URL"] = f"{live.tests_database_url().rsplit('/', 1)[0]}/{scratch}"
        env["PAYLANE_DB_POOL_SIZE"] = "0"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "tests.ledger.history_worker", str(sql_dir)],
            env=env,
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
    assert done.returncode == 0, done.stderr
    installed: dict[str, str] = json.loads(done.stdout.splitlines()[-1])
    return installed


def test_migrating_from_zero_installs_the_frozen_sql_whatever_the_live_files_say(tmp_path: Path) -> None:
    installed = migrate_from_zero(tmp_path, live_sql_marked(tmp_path))
    assert [name for name, sql in installed.items() if "(live)" in sql] == []
    assert set(installed) >= MIGRATED[connection.vendor]


def test_sqlmigrate_prints_the_trigger_sql_each_migration_applies() -> None:
    # An auditor can read exactly what a migration did, per backend, without running it.
    printed = {}
    for name in ("0003", "0004", "0006"):
        out = io.StringIO()
        call_command("sqlmigrate", "ledger", name, stdout=out)
        printed[name] = out.getvalue()
    if connection.vendor == "postgresql":
        assert "CREATE OR REPLACE TRIGGER ledger_transaction_append_only" in printed["0003"]
        assert "CREATE OR REPLACE TRIGGER ledger_seal_no_truncate" in printed["0004"]
        assert "TRIGGER" not in printed["0006"]  # nothing to do on PostgreSQL
    else:
        assert "CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_update" in printed["0003"]
        assert "CREATE TRIGGER IF NOT EXISTS ledger_dailylimitchange_no_delete" in printed["0004"]
        assert "CREATE TRIGGER IF NOT EXISTS ledger_seal_no_replace" in printed["0006"]
