"""HAProxy: the front door (TLS, the app hosts by ``/readyz``), the PostgreSQL primary and replica
by Patroni's checks, and the Redis master by its role."""

from __future__ import annotations

import http.client
import subprocess
from typing import TYPE_CHECKING

from deploy.cluster.postgres import PG_NODES
from deploy.cluster.processes import fail, start, tcp_open, wait_for
from deploy.cluster.sentinels import REDIS_NODES
from deploy.cluster.templates import render

if TYPE_CHECKING:
    from deploy.cluster.cluster import Cluster


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
