#!/usr/bin/env python3
"""Paylane's cluster on one machine: ``deploy/cluster/up``, ``deploy/cluster/down``, ``deploy/cluster/status``.

Everything runs from Debian's packages as private processes on loopback ports of their own, in one
folder (``--dir``, default ``$PAYLANE_CLUSTER_DIR`` or ``/tmp/paylane-cluster``) that ``down``
removes with every process it started. The parts (docs/scaling.md, "The cluster"):

* etcd, one member (one machine: three members would share its fate anyway);
* two PostgreSQL 15 nodes under Patroni (run as the ``postgres`` user), streaming replication,
  synchronous mode with ``synchronous_commit = remote_apply``; ttl/loop_wait/retry_timeout 10/2/3;
* HAProxy: the primary's port and the replica's port by Patroni's REST checks (``/primary``,
  ``/replica``), the Redis master by its role, the app hosts by ``/readyz`` (TLS, websockets);
* PgBouncer in transaction mode on the primary's port: the app hosts' ``DATABASE_URL``;
* Redis master, replica, three Sentinels (quorum 2, down after 1 s);
* N app hosts, each ``deploy/serve.py`` (nginx, daphne, the websocket server) with its own ports
  and run folder; the first one also runs the task worker and the scheduler. Migrations run once,
  against the primary, before they start.

This module holds the cluster's state (``Cluster``) and the commands; the parts live beside it:
processes.py (start, stop, kill, probes), postgres.py (etcd, Patroni, PgBouncer), haproxy.py,
redis.py (Redis and Sentinel), apps.py (the app hosts), templates.py (the configuration files).

Ports are ``--base-port`` (default 27000) plus a fixed offset each (``PORTS`` below).
Standard library only, as serve.py: it runs before anything else is known to work.
"""

from __future__ import annotations

import sys
from pathlib import Path

if not __package__:
    # Run as a script (deploy/cluster/up, down, status): Python put this folder first on sys.path,
    # not the checkout's root, which the imports of deploy.cluster.* need: the root instead.
    sys.path[0] = str(Path(__file__).resolve().parent.parent.parent)

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import time
from dataclasses import dataclass, field

from deploy.cluster.apps import (
    APP_PORT_OFFSET,
    APP_UPSTREAM_OFFSET,
    APP_UPSTREAM_STRIDE,
    MAX_APP_HOSTS,
    migrate,
    start_app,
    wait_for_apps,
)
from deploy.cluster.haproxy import https_ready, start_haproxy
from deploy.cluster.postgres import (
    PG_NODES,
    create_database,
    patroni_roles,
    primary_node,
    start_etcd,
    start_pg_node,
    start_pgbouncer,
    sync_standby,
    wait_for_pg,
)
from deploy.cluster.processes import alive, fail, http_get, kill_tree, marked, say, stop, tcp_open, wait_for, wait_gone
from deploy.cluster.sentinels import REDIS_NODES, SENTINELS, redis_command, redis_master, start_redis
from deploy.cluster.templates import HERE

DEFAULT_DIR = Path(os.environ.get("PAYLANE_CLUSTER_DIR", "/tmp/paylane-cluster"))
DEFAULT_BASE_PORT = 27000
# Offsets from --base-port.
PORTS = {
    "etcd": 0,
    "etcd_peer": 1,
    "pg1": 10,
    "pg1_rest": 11,
    "pg2": 20,
    "pg2_rest": 21,
    "primary": 30,
    "replica": 31,
    "stats": 32,
    "pgbouncer": 40,
    "redis1": 50,
    "redis2": 51,
    "sentinel1": 52,
    "sentinel2": 53,
    "sentinel3": 54,
    "redis_proxy": 55,
    "https": 80,
}


@dataclass
class Cluster:
    """What `up` started: ports and pids, kept in ``<dir>/cluster.json`` for `down` and `status`."""

    dir: Path
    base_port: int
    app_hosts: int = 2
    web_processes: int = 1
    secret_key: str = ""
    app_env: dict[str, str] = field(default_factory=dict)
    pids: dict[str, int] = field(default_factory=dict)

    @property
    def state_file(self) -> Path:
        return self.dir / "cluster.json"

    def port(self, name: str) -> int:
        return self.base_port + PORTS[name]

    def app_port(self, index: int) -> int:
        return self.base_port + APP_PORT_OFFSET + index

    def app_upstream(self, index: int) -> int:
        return self.base_port + APP_UPSTREAM_OFFSET + APP_UPSTREAM_STRIDE * index

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port('https')}"

    @property
    def database_url(self) -> str:
        """The app hosts' DATABASE_URL: PgBouncer (transaction mode) on the current primary."""
        return f"postgres://paylane@127.0.0.1:{self.port('pgbouncer')}/paylane"

    @property
    def primary_url(self) -> str:
        """The current primary through HAProxy, without PgBouncer: migrations, checks."""
        return f"postgres://paylane@127.0.0.1:{self.port('primary')}/paylane"

    @property
    def replica_url(self) -> str:
        return f"postgres://paylane@127.0.0.1:{self.port('replica')}/paylane"

    @property
    def sentinels(self) -> str:
        return ",".join(f"127.0.0.1:{self.port(name)}" for name in SENTINELS)

    @property
    def redis_url(self) -> str:
        """The Redis master through HAProxy (role check): for what cannot ask the Sentinels."""
        return f"redis://127.0.0.1:{self.port('redis_proxy')}/0"

    def save(self) -> None:
        data = {
            "dir": str(self.dir),
            "base_port": self.base_port,
            "app_hosts": self.app_hosts,
            "web_processes": self.web_processes,
            "secret_key": self.secret_key,
            "app_env": self.app_env,
            "pids": self.pids,
            "url": self.url,
            "ports": {name: self.port(name) for name in PORTS}
            | {f"app{i}": self.app_port(i) for i in range(self.app_hosts)},
        }
        self.state_file.write_text(json.dumps(data, indent=2))
        self.state_file.chmod(0o600)

    @classmethod
    def load(cls, folder: Path) -> Cluster:
        data = json.loads((folder / "cluster.json").read_text())
        return cls(
            dir=Path(data["dir"]),
            base_port=data["base_port"],
            app_hosts=data["app_hosts"],
            web_processes=data["web_processes"],
            secret_key=data["secret_key"],
            app_env=data["app_env"],
            pids={k: int(v) for k, v in data["pids"].items()},
        )


def install_packages() -> None:
    if subprocess.run([str(HERE / "install")], check=False).returncode != 0:
        fail("could not install the cluster's Debian packages (above)")


def up(cluster: Cluster) -> None:
    if cluster.state_file.exists():
        fail(f"{cluster.dir} holds a cluster already: `deploy/cluster/down --dir {cluster.dir}` first")
    taken = [name for name in PORTS if tcp_open(cluster.port(name))]
    taken += [f"app{i}" for i in range(cluster.app_hosts) if tcp_open(cluster.app_port(i))]
    if taken:
        fail(f"ports in use: {', '.join(taken)} (base port {cluster.base_port}; --base-port to move)")
    install_packages()
    cluster.dir.mkdir(parents=True, exist_ok=True)
    # The postgres user reaches its nodes' folders inside.
    cluster.dir.chmod(0o755)
    cluster.secret_key = cluster.secret_key or secrets.token_urlsafe(50)
    cluster.save()
    started = time.monotonic()
    try:
        start_etcd(cluster)
        start_pg_node(cluster, "pg1")
        wait_for_pg(cluster)
        start_pg_node(cluster, "pg2")
        start_redis(cluster)
        start_haproxy(cluster)
        wait_for("the synchronous standby", lambda: sync_standby(cluster) is not None, 120)
        create_database(cluster)
        start_pgbouncer(cluster)
        migrate(cluster)
        for index in range(cluster.app_hosts):
            start_app(cluster, index)
        wait_for_apps(cluster, list(range(cluster.app_hosts)))
    except BaseException:
        say("start failed: stopping what started")
        down(cluster)
        raise
    say(f"up in {time.monotonic() - started:.0f} s: {cluster.url}/ ({cluster.dir})")
    status(cluster)


def down(cluster: Cluster, keep_logs: Path | None = None) -> None:
    """Every process, in order (app hosts, proxies, databases, etcd), then the folder (its logs
    copied to ``keep_logs`` first, when given)."""
    order = [f"app{i}" for i in range(MAX_APP_HOSTS)] + ["haproxy", "pgbouncer"]
    # The standby first, so that stopping the primary is not a failover.
    primary = primary_node(cluster)
    order += [n for n in PG_NODES if n != primary] + [n for n in PG_NODES if n == primary]
    order += [*SENTINELS, *REDIS_NODES, "etcd"]
    order += [name for name in list(cluster.pids) if name not in order]
    for name in order:
        if name in cluster.pids:
            stop(cluster, name, timeout=30 if name in PG_NODES else 15)
    left = marked(cluster.dir)
    for pid in left:
        kill_tree(pid)
    wait_gone(left, 10)
    if keep_logs is not None:
        keep_logs.mkdir(parents=True, exist_ok=True)
        logs = [*(cluster.dir / "logs").glob("*.log"), *cluster.dir.glob("pg*/log/*.log")]
        for path in [*logs, *cluster.dir.glob("pgbouncer/*.log")]:
            prefix = "" if path.parent.name == "logs" else f"{path.relative_to(cluster.dir).parts[0]}-"
            shutil.copy(path, keep_logs / f"{prefix}{path.name}")
    shutil.rmtree(cluster.dir, ignore_errors=True)
    say(f"down: no process left, {cluster.dir} removed" + (f" ({len(left)} stragglers killed)" if left else ""))


def status(cluster: Cluster) -> int:
    """Each part, up or down, and who is primary and master. Exit status 0 when all are up."""
    ok = True

    def line(name: str, state: str, good: bool) -> None:
        nonlocal ok
        ok = ok and good
        print(f"  {name:<12} {state}")

    print(f"paylane cluster in {cluster.dir} (base port {cluster.base_port})")
    etcd = http_get(cluster.port("etcd"), "/health")[0] == 200
    line("etcd", f"127.0.0.1:{cluster.port('etcd')} " + ("up" if etcd else "down"), etcd)
    roles = patroni_roles(cluster)
    sync = sync_standby(cluster)
    for node in PG_NODES:
        role = roles[node] + (" (synchronous)" if node == sync else "")
        line(node, f"127.0.0.1:{cluster.port(node)} {role}", roles[node] != "down")
    for name in ("primary", "replica", "pgbouncer", "redis_proxy"):
        up_ = tcp_open(cluster.port(name))
        line(name, f"127.0.0.1:{cluster.port(name)} " + ("up" if up_ else "down"), up_)
    master = redis_master(cluster)
    for name in REDIS_NODES:
        reply = redis_command(cluster.port(name), "ROLE") or ""
        role = "down" if not reply else ("master" if reply.split("\r\n")[2:3] == ["master"] else "replica")
        line(name, f"127.0.0.1:{cluster.port(name)} {role}", bool(reply))
    for name in SENTINELS:
        reply = redis_command(cluster.port(name), "PING") or ""
        line(name, f"127.0.0.1:{cluster.port(name)} " + ("up" if "PONG" in reply else "down"), "PONG" in reply)
    for index in range(cluster.app_hosts):
        pid = cluster.pids.get(f"app{index}")
        up_ = bool(pid and alive(pid)) and tcp_open(cluster.app_port(index))
        line(f"app{index}", f"https://127.0.0.1:{cluster.app_port(index)}/ " + ("up" if up_ else "down"), up_)
    front = https_ready(cluster)
    line("haproxy", f"{cluster.url}/ " + ("ready" if front else "not ready"), front)
    print(f"  PostgreSQL primary: {primary_node(cluster) or 'none'}; Redis master (Sentinel): {master or 'none'}")
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy/cluster", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the cluster's folder (removed by down)")
    parser.add_argument("--base-port", type=int, default=DEFAULT_BASE_PORT)
    parser.add_argument("--app-hosts", type=int, default=2, help=f"1 to {MAX_APP_HOSTS}")
    parser.add_argument("--web-processes", type=int, default=1, help="HTTP workers per app host")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for the app hosts")
    parser.add_argument("--keep-logs", type=Path, help="down: copy the logs here before removing the folder")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        fail("run as root: PostgreSQL and PgBouncer run as the postgres user, which only root can switch to")
    folder = args.dir.resolve()
    if args.command == "up":
        if not 1 <= args.app_hosts <= MAX_APP_HOSTS:
            fail(f"--app-hosts from 1 to {MAX_APP_HOSTS}")
        extra = {}
        for item in args.env:
            name, sep, value = item.partition("=")
            if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", name):
                fail(f"--env takes NAME=VALUE, not {item!r}")
            extra[name] = value
        cluster = Cluster(folder, args.base_port, args.app_hosts, args.web_processes, app_env=extra)
        up(cluster)
        return 0
    if not (folder / "cluster.json").exists():
        if args.command == "down":
            left = marked(folder)
            for pid in left:
                kill_tree(pid)
            shutil.rmtree(folder, ignore_errors=True)
            say(f"no cluster in {folder}" + (f"; {len(left)} stragglers killed" if left else ""))
            return 0
        fail(f"no cluster in {folder}")
    cluster = Cluster.load(folder)
    if args.command == "down":
        down(cluster, args.keep_logs)
        return 0
    return status(cluster)


if __name__ == "__main__":
    sys.exit(main())
