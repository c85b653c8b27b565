"""Redis: a master, a replica and three Sentinels, and who the Sentinels say is master.

Not the redis library: the cluster's tools use the standard library only (deploy/cluster/cluster.py).
"""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING

from deploy.cluster.processes import start, wait_for

if TYPE_CHECKING:
    from deploy.cluster.cluster import Cluster

SENTINEL_MASTER = "paylane"
REDIS_NODES = ("redis1", "redis2")
SENTINELS = ("sentinel1", "sentinel2", "sentinel3")


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
