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

Ports are ``--base-port`` (default 27000) plus a fixed offset each (``PORTS`` below).
Standard library only, as serve.py: it runs before anything else is known to work.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

HERE = Path(__file__).resolve().parent
BASE_DIR = HERE.parent.parent
SERVE = BASE_DIR / "deploy" / "serve.py"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
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
# App host i: nginx on base + 60 + i; its workers on base + 1000 + 500 * i and up (serve.py and
# honcho give each Procfile line a hundred ports).
APP_PORT_OFFSET, APP_UPSTREAM_OFFSET, APP_UPSTREAM_STRIDE, MAX_APP_HOSTS = 60, 1000, 500, 8
# Patroni's timing (seconds): leader key TTL, loop period, DCS retry.
TTL, LOOP_WAIT, RETRY_TIMEOUT = 10, 2, 3
SENTINEL_MASTER = "paylane"
PG_NODES = ("pg1", "pg2")
REDIS_NODES = ("redis1", "redis2")
SENTINELS = ("sentinel1", "sentinel2", "sentinel3")
# Every process started here carries this variable: `down` finds stragglers by it.
MARK = "PAYLANE_CLUSTER_DIR"


def say(message: str) -> None:
    print(f"paylane cluster: {message}", flush=True)


def fail(message: str) -> NoReturn:
    print(f"paylane cluster: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


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


# --- Processes ---------------------------------------------------------------------------------


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().split(") ", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (honcho puts each child in a session of its own)."""
    tree, out, todo = _children(), [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo.extend(tree.get(current, []))
    return out


def marked(folder: Path) -> list[int]:
    """Every live process whose environment names this cluster's folder."""
    needle = f"{MARK}={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> list[int]:
    """``sig`` to ``pid`` and everything below it; the pids signalled."""
    pids = [p for p in descendants(pid) if p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, sig)
        except ProcessLookupError:
            pass
    return pids


def wait_gone(pids: list[int], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while any(alive(p) for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def start(
    cluster: Cluster, name: str, command: list[str], *, user: str | None = None, env: dict[str, str] | None = None
) -> int:
    """``command`` in a session of its own, its output in ``<dir>/logs/<name>.log``; its pid."""
    logs = cluster.dir / "logs"
    logs.mkdir(exist_ok=True)
    base = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": str(cluster.dir)}
    with (logs / f"{name}.log").open("ab") as out:
        proc = subprocess.Popen(
            command,
            cwd=cluster.dir,
            env={**base, **(env or {}), MARK: str(cluster.dir)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user,
            group=user,
            extra_groups=[] if user else None,
        )
    cluster.pids[name] = proc.pid
    cluster.save()
    return proc.pid


def stop(cluster: Cluster, name: str, timeout: float = 15) -> None:
    """SIGTERM to the process ``name`` (the whole tree for an app host), SIGKILL to what is left."""
    pid = cluster.pids.pop(name, None)
    cluster.save()
    if pid is None or not alive(pid):
        return
    tree = descendants(pid)
    os.kill(pid, signal.SIGTERM)
    if not wait_gone([pid], timeout):
        os.kill(pid, signal.SIGKILL)
    if not wait_gone(tree, 5):
        for p in tree:
            if alive(p):
                kill_tree(p)
        wait_gone(tree, 5)


# --- Probes ------------------------------------------------------------------------------------


def tcp_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


def wait_for(what: str, check: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            fail(f"{what}: not ready after {timeout:.0f} s (logs in the cluster folder's logs/)")
        time.sleep(0.2)


def http_get(port: int, path: str) -> tuple[int, Any]:
    """GET on loopback; (status, JSON body or None); (0, None) when nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, None
    except (OSError, http.client.HTTPException):
        return 0, None
    finally:
        conn.close()


def redis_command(port: int, *words: str) -> str | None:
    """One Redis command in the inline protocol; the raw reply, or None when nothing answers."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
            # No QUIT: Sentinel does not close on it. The reply is short: what arrives at once.
            sock.sendall((" ".join(words) + "\r\n").encode())
            chunks = [sock.recv(65536)]
            sock.settimeout(0.1)
            try:
                while data := sock.recv(65536):
                    chunks.append(data)
            except TimeoutError:
                pass
            return b"".join(chunks).decode(errors="replace") or None
    except OSError:
        return None


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


def redis_master(cluster: Cluster) -> str | None:
    """The Redis master's address as the Sentinels' majority sees it."""
    votes: dict[str, int] = {}
    for name in SENTINELS:
        reply = redis_command(cluster.port(name), "SENTINEL", "get-master-addr-by-name", SENTINEL_MASTER)
        found = re.findall(r"^\$\d+\r\n([^\r]+)\r\n", reply or "", re.M)
        if len(found) >= 2:
            address = f"{found[0]}:{found[1]}"
            votes[address] = votes.get(address, 0) + 1
    return max(votes, key=lambda a: votes[a]) if votes else None


# --- Parts -------------------------------------------------------------------------------------


def render(template: str, values: dict[str, str]) -> str:
    text = (HERE / template).read_text()
    unknown = set(re.findall(r"@([A-Z0-9_]+)@", text)) - values.keys()
    if unknown:
        fail(f"deploy/cluster/{template} names values cluster.py does not have: {sorted(unknown)}")
    return re.sub(r"@([A-Z0-9_]+)@", lambda m: values[m.group(1)], text)


def install_packages() -> None:
    if subprocess.run([str(HERE / "install")], check=False).returncode != 0:
        fail("could not install the cluster's Debian packages (above)")


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


def haproxy_config(cluster: Cluster) -> str:
    pg_servers = "\n".join(
        f"    server {node} 127.0.0.1:{cluster.port(node)} check port {cluster.port(f'{node}_rest')}"
        for node in PG_NODES
    )

    hosts = range(cluster.app_hosts)
    apps = "\n".join(f"    server app{i} 127.0.0.1:{cluster.app_port(i)} check" for i in hosts)
    apps += "\n" + "\n".join(
        f"    server app{i}-alive 127.0.0.1:{cluster.app_port(i)} backup track paylane_alive/app{i}" for i in hosts
    )
    alive_servers = "\n".join(f"    server app{i} 127.0.0.1:{cluster.app_port(i)} check" for i in hosts)
    redis = "\n".join(f"    server {name} 127.0.0.1:{cluster.port(name)} check" for name in REDIS_NODES)
    return render(
        "haproxy.cfg",
        {
            "DIR": str(cluster.dir),
            "PRIMARY_PORT": str(cluster.port("primary")),
            "REPLICA_PORT": str(cluster.port("replica")),
            "REDIS_PROXY_PORT": str(cluster.port("redis_proxy")),
            "HTTPS_PORT": str(cluster.port("https")),
            "STATS_PORT": str(cluster.port("stats")),
            "PG_SERVERS": pg_servers,
            "REDIS_SERVERS": redis,
            "APP_SERVERS": apps,
            "APP_ALIVE_SERVERS": alive_servers,
        },
    )


def certificate(cluster: Cluster) -> None:
    """A self-signed certificate for 127.0.0.1 and localhost: HAProxy's TLS (clients trust it)."""
    folder = cluster.dir / "haproxy"
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = [
        "openssl", "req", "-x509", "-nodes", "-days", "30",
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-subj", "/CN=Paylane cluster", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        fail(f"openssl: {result.stderr.strip()}")
    (folder / "paylane.pem").write_text(cert.read_text() + key.read_text())
    (folder / "paylane.pem").chmod(0o600)
    key.unlink()


def start_haproxy(cluster: Cluster) -> None:
    folder = cluster.dir / "haproxy"
    folder.mkdir()
    certificate(cluster)
    (folder / "haproxy.cfg").write_text(haproxy_config(cluster))
    check = subprocess.run(["haproxy", "-c", "-f", str(folder / "haproxy.cfg")], capture_output=True, text=True)
    if check.returncode != 0:
        fail(f"haproxy.cfg: {check.stdout}{check.stderr}")
    # -W: the master-worker mode, in the foreground (-db), so SIGTERM to this pid stops it.
    start(cluster, "haproxy", ["haproxy", "-W", "-db", "-f", str(folder / "haproxy.cfg")])
    wait_for("HAProxy", lambda: tcp_open(cluster.port("stats")), 30)


def start_redis(cluster: Cluster) -> None:
    folder = cluster.dir / "redis"
    folder.mkdir()
    master = cluster.port("redis1")
    for name in REDIS_NODES:
        port = cluster.port(name)
        command = [
            "redis-server", "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder),
            "--save", "", "--appendonly", "no", "--dbfilename", f"{name}.rdb", "--protected-mode", "no",
        ]  # fmt: skip
        if name != "redis1":
            command += ["--replicaof", "127.0.0.1", str(master)]
        start(cluster, name, command)
        wait_for(name, lambda p=port: "PONG" in (redis_command(p, "PING") or ""), 30)  # type: ignore[misc]
    for name in SENTINELS:
        config = folder / f"{name}.conf"
        # Sentinel rewrites its own file (the master it follows, the others it knows).
        config.write_text(
            f"bind 127.0.0.1\nport {cluster.port(name)}\ndir {folder}\nprotected-mode no\n"
            f"sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {master} 2\n"
            f"sentinel down-after-milliseconds {SENTINEL_MASTER} 1000\n"
            f"sentinel failover-timeout {SENTINEL_MASTER} 5000\n"
            f"sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
        )
        start(cluster, name, ["redis-sentinel", str(config)])
    wait_for("the Sentinels", lambda: redis_master(cluster) == f"127.0.0.1:{master}", 30)


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


def https_ready(cluster: Cluster) -> bool:
    import ssl

    context = ssl.create_default_context(cafile=str(cluster.dir / "haproxy" / "cert.pem"))
    conn = http.client.HTTPSConnection("127.0.0.1", cluster.port("https"), timeout=3, context=context)
    try:
        conn.request("GET", "/readyz")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


# --- Commands ----------------------------------------------------------------------------------


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
