"""The cluster's settings (docs/operations.md): Redis through Sentinel, the read replica, PgBouncer's transaction mode.

Every environment below is read by project/settings.py in one subprocess
(tests/project/settings_probe.py), as a process started with it would read it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from tests.support.live import BASE_DIR

SENTINELS = "10.0.0.1:26379,10.0.0.2:26379,sentinel-3.example:26380"
SENTINEL_LIST = [["10.0.0.1", 26379], ["10.0.0.2", 26379], ["sentinel-3.example", 26380]]
PRIMARY = "postgres://paylane@pgbouncer.example:6432/paylane"
STANDBY = "postgres://paylane@replica.example:6433/paylane"

CONFIGS = {
    "sentinel": {"REDIS_SENTINELS": SENTINELS, "REDIS_SENTINEL_MASTER": "pay", "REDIS_SENTINEL_DB": "3"},
    "sentinel_defaults": {"REDIS_SENTINELS": SENTINELS},
    "both_redis": {"REDIS_SENTINELS": SENTINELS, "REDIS_URL": "redis://x:6379/0"},
    "bad_sentinels": {"REDIS_SENTINELS": "10.0.0.1,10.0.0.2:26379"},
    "replica": {"DATABASE_URL": PRIMARY, "DATABASE_REPLICA_URL": STANDBY, "PAYLANE_PROCESS": "web"},
    "pooling_web": {
        "DATABASE_URL": PRIMARY,
        "DATABASE_REPLICA_URL": STANDBY,
        "PAYLANE_DB_TRANSACTION_POOLING": "1",
        "PAYLANE_DB_LOCK_TIMEOUT": "2s",
        "PAYLANE_PROCESS": "web",
    },
    "pooling_command": {"DATABASE_URL": PRIMARY, "PAYLANE_DB_TRANSACTION_POOLING": "1", "PAYLANE_PROCESS": "command"},
}


@pytest.fixture(scope="module")
def probed() -> dict[str, dict[str, Any]]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.project.settings_probe", json.dumps(CONFIGS)],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_redis_sentinels_put_the_channel_layer_and_the_cache_behind_sentinel(probed: dict[str, Any]) -> None:
    layer, cache = probed["sentinel"]["layer"], probed["sentinel"]["cache"]
    assert (layer["sentinels"], layer["master_name"], layer["db"]) == (SENTINEL_LIST, "pay", 3)
    assert "address" not in layer and layer["socket_timeout"] is None  # idle subscriptions never time out
    assert cache["LOCATION"] == "redis://pay/3"  # the master only: no stale counter read from a replica
    assert cache["OPTIONS"]["CONNECTION_FACTORY"] == "project.sentinel_cache.SharedSentinelConnectionFactory"
    assert cache["OPTIONS"]["SENTINELS"] == SENTINEL_LIST


def test_the_sentinel_master_is_named_paylane_unless_told(probed: dict[str, Any]) -> None:
    layer, cache = probed["sentinel_defaults"]["layer"], probed["sentinel_defaults"]["cache"]
    assert (layer["master_name"], layer["db"], cache["LOCATION"]) == ("paylane", 0, "redis://paylane/0")


def test_redis_url_and_redis_sentinels_together_or_a_bad_sentinel_list_refuse_to_start(
    probed: dict[str, Any],
) -> None:
    assert "not both" in probed["both_redis"]["error"]
    assert "REDIS_SENTINELS must look like host:26379" in probed["bad_sentinels"]["error"]


def test_database_replica_url_adds_a_replica_alias_configured_like_default_and_mirrored_in_tests(
    probed: dict[str, Any],
) -> None:
    databases = probed["replica"]["databases"]
    assert set(databases) == {"default", "replica"}
    replica = databases["replica"]
    assert (replica["HOST"], replica["PORT"], replica["TEST"]["MIRROR"]) == ("replica.example", 6433, "default")
    assert replica["OPTIONS"]["pool"] == databases["default"]["OPTIONS"]["pool"]
    assert "lock_timeout=5s" in replica["OPTIONS"]["options"]  # web processes' timeouts, as on default
    assert probed["replica"]["routers"] == ["project.database.routers.ReplicaRouter"]


def test_transaction_pooling_drops_the_connection_options_and_sets_the_timeouts_per_transaction(
    probed: dict[str, Any],
) -> None:
    pooled = probed["pooling_web"]
    for alias in ("default", "replica"):
        assert "options" not in pooled["databases"][alias]["OPTIONS"]  # PgBouncer refuses the startup parameter
        assert pooled["databases"][alias]["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert pooled["per_transaction"] == {"lock_timeout": "2s", "statement_timeout": "30s"}
    # Management commands (PAYLANE_PROCESS other than web) run without them, as without PgBouncer.
    assert probed["pooling_command"]["per_transaction"] == {}
