"""One cluster for the whole session (deploy/cluster/up), removed at the end (deploy/cluster/down)."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy.cluster.apps import APP_PORT_OFFSET, APP_UPSTREAM_OFFSET, APP_UPSTREAM_STRIDE, MAX_APP_HOSTS
from deploy.cluster.cluster import PORTS
from deploy.ports import PORTS_PER_LINE, free_base
from tests.cluster.support import CLUSTER_PY, Running

APP_HOSTS = 2
# The app hosts' settings for the tests: many payments a second from a few payers.
APP_ENV = {
    "PAYLANE_TRANSFER_RATE": "100000/s",
    "PAYLANE_REGISTER_RATE": "100000/h",
    "PAYLANE_SIGNIN_RATE": "100000/m",
    "PAYLANE_CODE_RATE": "100000/h",
}


def _free_base() -> int:
    """A base port whose cluster ports are free, below the ephemeral range and the suite's 20000s."""

    def ports_of(base: int) -> list[int]:
        ports = [base + offset for offset in PORTS.values()]
        ports += [base + APP_PORT_OFFSET + i for i in range(MAX_APP_HOSTS)]
        # Each app host's daphnes (web, ws): serve.py refuses to start when one is taken.
        upstreams = [base + APP_UPSTREAM_OFFSET + APP_UPSTREAM_STRIDE * i for i in range(APP_HOSTS)]
        return ports + [port + offset for port in upstreams for offset in (0, PORTS_PER_LINE)]

    return free_base(ports_of, 10000, 16000, 100)


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    if os.geteuid() != 0:
        pytest.skip("the cluster runs PostgreSQL as the postgres user: run make cluster-test as root")
    folder = Path(tempfile.mkdtemp(prefix="paylane-cluster-test-"))
    settings = [arg for name, value in APP_ENV.items() for arg in ("--env", f"{name}={value}")]
    where = ["--dir", str(folder), "--base-port", str(_free_base()), "--app-hosts", str(APP_HOSTS)]
    up = subprocess.run([sys.executable, str(CLUSTER_PY), "up", *where, *settings])
    try:
        assert up.returncode == 0, "deploy/cluster/up failed (above)"
        yield Running(folder)
    finally:
        # The logs outlive the cluster, in pytest's temporary folder (printed below).
        logs = tmp_path_factory.mktemp("cluster-logs")
        subprocess.run(
            [sys.executable, str(CLUSTER_PY), "down", "--dir", str(folder), "--keep-logs", str(logs)], timeout=180
        )
        print(f"cluster logs: {logs}")
