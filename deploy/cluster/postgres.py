"""PostgreSQL: etcd, two nodes under Patroni (synchronous replication), PgBouncer, and who is primary."""

from __future__ import annotations

import os
import pwd
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from deploy.cluster.processes import fail, http_get, kill_tree, say, start, tcp_open, wait_for
from deploy.cluster.templates import render

if TYPE_CHECKING:
    from deploy.cluster.cluster import Cluster

PG_BIN = Path("/usr/lib/postgresql/15/bin")
# Patroni's timing (seconds): leader key TTL, loop period, DCS retry.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 2, 3
PG_NODES = ("pg1", "pg2")


def start_etcd(cluster: Cluster) -> None:
    data = cluster.dir / "etcd"
    data.mkdir()
    client, peer = cluster.port("etcd"), cluster.port("etcd_peer")
    command = [
        "etcd", "--name", "etcd1", "--data-dir", str(data),
        "--listen-client-urls", f"http://127.0.0.1:{client}", "--advertise-client-urls", f"http://127.0.0.1:{client}",
        "--listen-peer-urls", f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
        "--initial-cluster", f"etcd1=http://127.0.0.1:{peer}", "--initial-cluster-state", "new",
        "--initial-cluster-token", f"paylane-{cluster.base_port}",
        # Renew Patroni's leader key promptly on a busy machine.
        "--heartbeat-interval", "100", "--election-timeout", "1000", "--log-level", "warn",
    ]  # fmt: skip
    start(cluster, "etcd", command, env={"ETCD_UNSUPPORTED_ARCH": ""})
    wait_for("etcd", lambda: http_get(client, "/health")[0] == 200, 30)


def postgres_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        fail("no `postgres` user (Debian's postgresql-common makes it): PostgreSQL refuses to run as root")


def start_pg_node(cluster: Cluster, node: str) -> None:
    """A PostgreSQL node under Patroni, as the postgres user (PostgreSQL refuses root)."""
    user = postgres_user()
    folder = cluster.dir / node
    first = not folder.exists()
    if first:
        (folder / "log").mkdir(parents=True)
        values = {
            "NAME": node,
            "NODE_DIR": str(folder),
            "REST_PORT": str(cluster.port(f"{node}_rest")),
            "PG_PORT": str(cluster.port(node)),
            "ETCD_PORT": str(cluster.port("etcd")),
            "TTL": str(TTL),
            "LOOP_WAIT": str(LOOP_WAIT),
            "RETRY_TIMEOUT": str(RETRY_TIMEOUT),
        }
        (folder / "patroni.yml").write_text(render("patroni.yml", values))
        for path in [folder, *folder.rglob("*")]:
            os.chown(path, user.pw_uid, user.pw_gid)
        folder.chmod(0o700)
    command = ["patroni", str(folder / "patroni.yml")]
    start(cluster, node, command, user="postgres", env={"HOME": str(folder)})


def kill_pg_node(cluster: Cluster, node: str) -> list[int]:
    """SIGKILL a node as if its host died: Patroni, and PostgreSQL with every backend. Patroni
    starts the postmaster detached (so that its own death does not take the database down), so
    the postmaster is found by its pid file, not below Patroni."""
    killed = kill_tree(cluster.pids[node]) if node in cluster.pids else []
    try:
        postmaster = int((cluster.dir / node / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return killed
    return killed + kill_tree(postmaster)


def wait_for_pg(cluster: Cluster) -> str:
    wait_for("a PostgreSQL primary (Patroni)", lambda: primary_node(cluster) is not None, 120)
    primary = primary_node(cluster)
    assert primary is not None
    say(f"PostgreSQL primary: {primary}")
    return primary


def psql(cluster: Cluster, port: int, sql: str, *, user: str = "postgres", database: str = "postgres") -> str:
    result = subprocess.run(
        [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", database,
         "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        fail(f"psql on port {port}: {result.stderr.strip()}")
    return result.stdout.strip()


def create_database(cluster: Cluster) -> None:
    """The application's role and database, on the primary (through HAProxy)."""
    port = cluster.port("primary")
    wait_for("HAProxy's primary port", lambda: subprocess_ok(port), 60)
    # No timeouts on the role: the web processes set theirs with SET LOCAL in each transaction
    # (PAYLANE_DB_TRANSACTION_POOLING=1), manage.py's commands run without (docs/operations.md).
    psql(cluster, port, "CREATE ROLE paylane LOGIN")
    psql(cluster, port, "CREATE DATABASE paylane OWNER paylane")


def subprocess_ok(port: int) -> bool:
    result = subprocess.run(
        [str(PG_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(port), "-t", "1"], capture_output=True, check=False
    )
    return result.returncode == 0


def start_pgbouncer(cluster: Cluster) -> None:
    user = postgres_user()
    folder = cluster.dir / "pgbouncer"
    folder.mkdir()
    values = {"DIR": str(cluster.dir), "PRIMARY_PORT": str(cluster.port("primary")),
              "PGBOUNCER_PORT": str(cluster.port("pgbouncer"))}  # fmt: skip
    (folder / "pgbouncer.ini").write_text(render("pgbouncer.ini", values))
    (folder / "userlist.txt").write_text('"paylane" ""\n"postgres" ""\n')
    for path in [folder, *folder.iterdir()]:
        os.chown(path, user.pw_uid, user.pw_gid)
    # PgBouncer refuses to run as root.
    start(cluster, "pgbouncer", ["pgbouncer", str(folder / "pgbouncer.ini")], user="postgres")
    wait_for("PgBouncer", lambda: tcp_open(cluster.port("pgbouncer")), 30)


def patroni_roles(cluster: Cluster) -> dict[str, str]:
    """Each node's role by its Patroni REST API: primary, replica, or down."""
    roles = {}
    for node in PG_NODES:
        status, body = http_get(cluster.port(f"{node}_rest"), "/patroni")
        if status and isinstance(body, dict):
            role = str(body.get("role", "?"))
            roles[node] = "primary" if role in ("master", "primary") else f"{role} ({body.get('state', '?')})"
        else:
            roles[node] = "down"
    return roles


def primary_node(cluster: Cluster) -> str | None:
    """The node whose Patroni answers 200 on /primary (what HAProxy routes writes to)."""
    for node in PG_NODES:
        if http_get(cluster.port(f"{node}_rest"), "/primary")[0] == 200:
            return node
    return None


def sync_standby(cluster: Cluster) -> str | None:
    """The node Patroni lists as the synchronous standby, once it streams."""
    for node in PG_NODES:
        status_code, body = http_get(cluster.port(f"{node}_rest"), "/cluster")
        if status_code == 200 and isinstance(body, dict):
            for member in body.get("members", []):
                if member.get("role") in ("sync_standby", "synchronous_standby") and member.get("state") in (
                    "running",
                    "streaming",
                ):
                    return str(member["name"])
    return None
