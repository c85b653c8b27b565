"""The read replica: the router's decisions, and read-your-writes on a real synchronous standby.

``ledger.replica`` / ``project.database.routers``: reads inside ``replica_reads()``
go to the ``replica`` alias when there is one, unless ``default`` is inside a
transaction; writes and migrations to ``default`` only. The standby test builds
a private primary with a streaming standby (``synchronous_commit =
remote_apply``, tests/support/standby.py) and runs the application against
both in a subprocess: every history read right after a transfer's COMMIT, on the
standby, shows that transfer; statements and ``verify_ledger`` read the standby.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from ledger import replica
from ledger.replica import REPLICA, read_alias, replica_reads
from project.database.routers import ReplicaRouter
from tests.support.live import BASE_DIR, free_port
from tests.support.standby import PrimaryWithStandby
from wallets.models import User, Wallet

router = ReplicaRouter()


@pytest.fixture
def with_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica, "replica_configured", lambda: True)
    monkeypatch.setattr(replica, "_replica_reachable", lambda: True)


def test_without_a_replica_every_read_goes_to_default() -> None:
    with replica_reads():
        assert router.db_for_read(Wallet) == "default" == read_alias()


def test_with_a_replica_only_the_reads_asked_for_go_there(with_replica: None) -> None:
    assert router.db_for_read(Wallet) == "default"
    with replica_reads():
        assert router.db_for_read(Wallet) == REPLICA == read_alias()
        assert router.db_for_write(Wallet) == "default"
    assert router.db_for_read(User) == "default"


def test_migrations_run_on_default_only() -> None:
    assert router.allow_migrate("default", "wallets")
    assert not router.allow_migrate(REPLICA, "wallets")


@pytest.mark.django_db(transaction=True)
def test_a_read_inside_a_transaction_on_default_stays_there(with_replica: None) -> None:
    # A money movement's reads (and any read after a write in the same transaction) must see it.
    with replica_reads(), transaction.atomic():
        assert router.db_for_read(Wallet) == "default"


def worker(*args: str, primary: str, replica: str, **extra: str) -> dict[str, Any]:
    """Run tests/project/replica_worker.py against ``primary`` and ``replica``; its report."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PAYLANE_PROCESS")}
    env.update(DATABASE_URL=primary, DATABASE_REPLICA_URL=replica, PAYLANE_SMS_BACKEND="locmem", **extra)
    done = subprocess.run(
        [sys.executable, "-m", "tests.project.replica_worker", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    report["log"] = done.stderr
    return report


@pytest.fixture(scope="module")
def standby(django_db_setup: None) -> Iterator[PrimaryWithStandby]:
    """The primary and its standby, with the test database's schema (faster than migrating)."""
    servers = PrimaryWithStandby()
    try:
        servers.start()
        s = connection.settings_dict
        host, port = s["HOST"] or "127.0.0.1", int(s["PORT"] or 5432)
        servers.copy_schema(host=host, port=port, user=s["USER"], database=s["NAME"])
        yield servers
    finally:
        servers.stop()


@pytest.mark.postgres
def test_on_a_synchronous_standby_a_transfer_is_in_the_history_read_from_it_right_after_commit(
    standby: PrimaryWithStandby,
) -> None:
    report = worker(primary=standby.url(standby.primary_port), replica=standby.url(standby.standby_port))

    assert report["replica_in_recovery"] is True  # the replica alias is the standby
    assert report["misses"] == 0  # read-your-writes, every time
    assert report["history_queries"]["default"] == 0 and report["history_queries"][REPLICA] > 0
    assert report["statement_entries"] == report["statement_lines"] == report["transfers"]
    assert report["verify_ledger"].startswith("verify_ledger: OK")


@pytest.mark.postgres
def test_an_unreachable_replica_sends_its_reads_to_the_primary_instead_of_failing_them(
    standby: PrimaryWithStandby,
) -> None:
    nowhere = f"postgres://postgres@127.0.0.1:{free_port()}/paylane"
    report = worker(
        "unreachable", primary=standby.url(standby.primary_port), replica=nowhere, PAYLANE_DB_POOL_TIMEOUT="1"
    )
    assert report["alias"] == "default"
    assert report["history"] == [report["entry"]]
    assert "replica unreachable, reading from default" in report["log"]
