"""The app hosts: each one deploy/serve.py with its own ports and run folder, migrated once before."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.cluster.haproxy import https_ready
from deploy.cluster.processes import MARK, alive, fail, start, wait_for
from deploy.cluster.sentinels import SENTINEL_MASTER

if TYPE_CHECKING:
    from deploy.cluster.cluster import Cluster

BASE_DIR = Path(__file__).resolve().parent.parent.parent
SERVE = BASE_DIR / "deploy" / "serve.py"
# App host i: nginx on base + 60 + i; its workers on base + 1000 + 500 * i and up (serve.py and
# honcho give each Procfile line a hundred ports).
APP_PORT_OFFSET, APP_UPSTREAM_OFFSET, APP_UPSTREAM_STRIDE, MAX_APP_HOSTS = 60, 1000, 500, 8


def app_env(cluster: Cluster, index: int) -> dict[str, str]:
    """The environment of app host ``index``: deploy/serve.py's settings and the cluster's addresses."""
    run = cluster.dir / f"app{index}"
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "SECRET_KEY": cluster.secret_key,
        "DATABASE_URL": cluster.database_url,
        "DATABASE_REPLICA_URL": cluster.replica_url,
        "PAYLANE_DB_TRANSACTION_POOLING": "1",
        # Few connections per process: PgBouncer holds the server connections.
        "PAYLANE_DB_POOL_SIZE": "4",
        # Redis through the Sentinels (not REDIS_URL: the application takes one or the other).
        "REDIS_SENTINELS": cluster.sentinels,
        "REDIS_SENTINEL_MASTER": SENTINEL_MASTER,
        "REDIS_SENTINEL_DB": "0",
        "HOST": "127.0.0.1",
        "PORT": str(cluster.app_port(index)),
        "PAYLANE_UPSTREAM_PORT": str(cluster.app_upstream(index)),
        "PAYLANE_WEB_PROCESSES": str(cluster.web_processes),
        "PAYLANE_RUN_DIR": str(run),
        # Migrated once by `up`, against the primary.
        "PAYLANE_SERVE_MIGRATE": "0",
        # One task worker and one scheduler for the whole cluster: on the first host.
        "PAYLANE_SERVE_JOBS": "1" if index == 0 else "0",
        # HAProxy and nginx both append to X-Forwarded-For.
        "PAYLANE_PROXY_COUNT": "2",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PAYLANE_SMS_BACKEND": "file",
        "PAYLANE_SMS_FILE_PATH": str(cluster.dir / "sms"),
        **cluster.app_env,
    }


def migrate(cluster: Cluster) -> None:
    env = {
        **app_env(cluster, 0),
        # Straight to the primary, not through PgBouncer, and without the role's statement timeout.
        "DATABASE_URL": cluster.primary_url + "?options=-c%20statement_timeout%3D0",
        "PAYLANE_PROCESS": "migrate",
        MARK: str(cluster.dir),
    }
    env.pop("DATABASE_REPLICA_URL", None)
    for args in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"]):
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=False)
        if result.returncode != 0:
            fail(f"manage.py {' '.join(args)} failed (above)")


def start_app(cluster: Cluster, index: int) -> None:
    """App host ``index``: deploy/serve.py in its own run folder; returns once it has prepared."""
    run = cluster.dir / f"app{index}"
    run.mkdir(exist_ok=True)
    run.chmod(0o755)
    name = f"app{index}"
    log = cluster.dir / "logs" / f"{name}.log"
    offset = log.stat().st_size if log.exists() else 0
    start(cluster, name, [sys.executable, str(SERVE)], env=app_env(cluster, index))

    def started() -> bool:
        text = log.read_bytes()[offset:].decode(errors="replace")
        if cluster.pids.get(name) and not alive(cluster.pids[name]):
            fail(f"{name} exited:\n{text[-4000:]}")
        return "starting" in text and "HTTP worker" in text

    wait_for(name, started, 120)


def app_ready(cluster: Cluster, index: int) -> bool:
    log = cluster.dir / "logs" / f"app{index}.log"
    return log.exists() and "paylane serve: ready on" in log.read_text(errors="replace")


def wait_for_apps(cluster: Cluster, indexes: list[int]) -> None:
    wait_for("the app hosts", lambda: all(app_ready(cluster, i) for i in indexes), 180)
    wait_for("HAProxy's app hosts", lambda: https_ready(cluster), 60)
