"""`cluster`: transfers/s through the cluster's HAProxy with 1, 2 and 4 app hosts, and where the CPU goes.

Starts the cluster once (deploy/cluster/up, as root) with the most app hosts asked for, then for
each count takes the other hosts out of HAProxy's rotation (its admin socket: ``set server
paylane_hosts/appN state maint``) and runs ``--clients`` client processes, each with one keep-alive
HTTPS connection to HAProxy, POSTing ``/api/v1/transfers/`` with a Bearer token, the payer's PIN
and an ``Idempotency-Key``, for ``--seconds``. Beside each run it reads every process's CPU time
from /proc: the share of a core each part of the cluster used (gunicorn, daphne, nginx, HAProxy, PgBouncer,
PostgreSQL, Redis, the clients). ``deploy/cluster/down`` at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import ssl
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import harness
from bench.http import api_transfers
from bench.transfers import wallets_create
from deploy.cluster.cluster import Cluster
from deploy.cluster.postgres import PG_NODES
from deploy.cluster.processes import descendants

ROOT = Path(__file__).resolve().parents[1]
CLUSTER_PY = ROOT / "deploy" / "cluster" / "cluster.py"
APP_ENV = {"PAYLANE_TRANSFER_RATE": "1000000/s"}
# Which part of the cluster a process is, by its command line.
PARTS = [
    ("gunicorn", "gunicorn"),  # the HTTP workers (deploy/Procfile's web)
    ("daphne", "daphne"),  # the websocket server (ws)
    ("nginx", "nginx"),
    ("haproxy", "haproxy"),
    ("pgbouncer", "pgbouncer"),
    ("patroni", "patroni"),
    ("postgres", "postgres"),
    ("redis-sentinel", "redis-sentinel"),
    ("redis-server", "redis"),
    ("etcd", "etcd"),
    ("db_worker", "task worker"),
    ("paylane_scheduler", "task worker"),
]


def cluster_pids(state: Cluster) -> set[int]:
    """Every process of this cluster: below the ones `up` started, and each PostgreSQL node's
    postmaster (Patroni starts it detached). Not the machine's other processes."""
    roots = list(state.pids.values())
    for node in PG_NODES:
        try:
            roots.append(int((state.dir / node / "data" / "postmaster.pid").read_text().split()[0]))
        except (OSError, IndexError, ValueError):
            continue
    return {pid for root in roots for pid in descendants(root)}


def cpu_by_part(pids: set[int]) -> dict[str, float]:
    """CPU seconds so far of the processes ``pids``, summed by part."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in pids:
        entry = Path(f"/proc/{pid}")
        try:
            fields = (entry / "stat").read_text().split(") ", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue
        seconds = (int(fields[11]) + int(fields[12])) / tick
        part = next((name for needle, name in PARTS if needle in cmdline), "")
        if part:
            out[part] = out.get(part, 0.0) + seconds
    return out


def haproxy_admin(folder: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(folder / "haproxy" / "admin.sock"))
        sock.sendall((command + "\n").encode())
        return sock.recv(65536).decode()


def client_job(
    port: int, cafile: str, tokens: dict[int, str], user_ids: list[int]
) -> Callable[[int], Callable[[], None]]:
    """bench http's API clients, through the cluster's HAProxy (its self-signed certificate)."""

    def connect() -> http.client.HTTPConnection:
        context = ssl.create_default_context(cafile=cafile)
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=30, context=context)

    return api_transfers(connect, tokens, user_ids)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench cluster", description=__doc__)
    parser.add_argument("--hosts", default="1,2,4", help="app host counts to measure")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--wallets", type=int, default=200)
    parser.add_argument("--base-port", type=int, default=17000)
    parser.add_argument("--web-processes", type=int, default=1, help="HTTP workers per app host")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="a setting for the app hosts")
    parser.add_argument("--name", default="cluster")
    args = parser.parse_args(argv)
    counts = [int(h) for h in args.hosts.split(",")]
    folder = Path(tempfile.mkdtemp(prefix="paylane-cluster-bench-"))
    settings = [f"{name}={value}" for name, value in APP_ENV.items()] + args.env
    env_args = [arg for setting in settings for arg in ("--env", setting)]
    up = [sys.executable, str(CLUSTER_PY), "up", "--dir", str(folder), "--base-port", str(args.base_port)]
    up += ["--app-hosts", str(max(counts)), "--web-processes", str(args.web_processes), *env_args]
    rows: list[dict[str, Any]] = []
    try:
        subprocess.run(up, check=True, stdout=subprocess.DEVNULL)
        state = Cluster.load(folder)
        # The cluster's key: PIN hashes are peppered with it.
        os.environ["SECRET_KEY"] = state.secret_key
        harness.django_setup(state.primary_url)
        user_ids = wallets_create(args.wallets)
        from wallets.accounts.tokens import token_issue
        from wallets.models import User

        tokens = {u.pk: token_issue(user=u) for u in User.objects.filter(pk__in=user_ids)}
        harness.connections_release()
        cafile = str(folder / "haproxy" / "cert.pem")
        probe = client_job(state.port("https"), cafile, tokens, user_ids)(0)
        probe()  # one transfer first: a refusal stops the benchmark with its answer
        for hosts in counts:
            for i in range(max(counts)):
                for server in (f"app{i}", f"app{i}-alive"):
                    haproxy_admin(
                        folder, f"set server paylane_hosts/{server} state {'ready' if i < hosts else 'maint'}"
                    )
            time.sleep(1)
            job = client_job(state.port("https"), cafile, tokens, user_ids)
            pids = cluster_pids(state)
            before, began = cpu_by_part(pids), time.monotonic()
            # The client processes' CPU is ours once they have exited and been waited for.
            own_before = os.times()
            run = harness.measure(f"cluster/{hosts}-host", job, workers=args.clients, seconds=args.seconds)
            elapsed = time.monotonic() - began
            # Processes born during the run (a new PostgreSQL backend) count from their birth.
            after = cpu_by_part(pids | cluster_pids(state))
            own_after = os.times()
            used = {part: after.get(part, 0.0) - before.get(part, 0.0) for part in after}
            clients = own_after.children_user + own_after.children_system
            used["clients"] = clients - own_before.children_user - own_before.children_system
            cpu = {part: round(100 * seconds / elapsed) for part, seconds in used.items()}
            # CPU per transfer: less at the mercy of a busy machine than transfers/s.
            per_transfer = {part: round(1000 * seconds / max(run.ops, 1), 2) for part, seconds in used.items()}
            busiest = sorted(((v, k) for k, v in cpu.items() if v > 0), reverse=True)
            rows.append(
                {
                    "hosts": hosts,
                    "clients": args.clients,
                    **run.summary(),
                    "cpu_percent": {k: v for v, k in busiest},
                    "cpu_ms_per_transfer": {k: per_transfer[k] for _, k in busiest},
                    "cpu": ", ".join(f"{k} {v}% ({per_transfer[k]} ms)" for v, k in busiest[:6]),
                }
            )
    finally:
        subprocess.run([sys.executable, str(CLUSTER_PY), "down", "--dir", str(folder)], check=False)
    print(harness.table(rows, ["hosts", "clients", "ops", "errors", "per_second", "p50_ms", "p99_ms", "cpu"]))
    payload = {"args": vars(args), "runs": rows}
    print(f"wrote {harness.write_results(args.name, payload)}")
    return payload
