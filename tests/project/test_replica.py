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

import pytest
from django.db import connection, transaction

from ledger import replica
from ledger.replica import REPLICA, read_alias, replica_reads
from project.database.routers import ReplicaRouter
from tests.support.live import BASE_DIR
from tests.support.standby import PrimaryWithStandby
from wallets.models import User, Wallet

router = ReplicaRouter()


@pytest.fixture
def with_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replica, "replica_configured", lambda: True)


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


@pytest.fixture(scope="module")
def standby() -> Iterator[PrimaryWithStandby]:
    servers = PrimaryWithStandby()
    try:
        servers.start()
        yield servers
    finally:
        servers.stop()


@pytest.mark.postgres
@pytest.mark.django_db  # the test database: its schema is copied to the primary (faster than migrating)
def test_on_a_synchronous_standby_a_transfer_is_in_the_history_read_from_it_right_after_commit(
    standby: PrimaryWithStandby,
) -> None:
    s = connection.settings_dict
    standby.copy_schema(host=s["HOST"] or "127.0.0.1", port=int(s["PORT"] or 5432), user=s["USER"], database=s["NAME"])
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "PAYLANE_PROCESS")}
    env.update(
        DATABASE_URL=standby.url(standby.primary_port),
        DATABASE_REPLICA_URL=standby.url(standby.standby_port),
        PAYLANE_SMS_BACKEND="locmem",
    )
    done = subprocess.run(
        [sys.executable, "-m", "tests.project.replica_worker"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])

    assert report["replica_in_recovery"] is True  # the replica alias is the standby
    assert report["misses"] == 0  # read-your-writes, every time
    assert report["history_queries"]["default"] == 0 and report["history_queries"][REPLICA] > 0
    assert report["statement_entries"] == report["statement_lines"] == report["transfers"]
    assert report["verify_ledger"].startswith("verify_ledger: OK")
