"""A private Redis master, its replica and three redis-sentinel processes, on free loopback ports.

For the failover tests: ``kill_master()`` SIGKILLs the master and ``wait_for_promotion()`` waits
until the sentinels name the replica as the master. Every process started here is stopped by
``stop()``, by its own pid. Never the machine's shared Redis.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from pathlib import Path

import redis

from tests.support.live import _stop, _wait_until, free_port

MASTER_NAME = "paylane"


class SentinelGroup:
    def __init__(self, folder: Path, *, master_name: str = MASTER_NAME) -> None:
        server, sentinel = shutil.which("redis-server"), shutil.which("redis-sentinel")
        assert server and sentinel, "redis-server and redis-sentinel are needed (deploy/install-test-packages)"
        self.server, self.sentinel, self.folder, self.master_name = server, sentinel, folder, master_name
        self.master_port, self.replica_port = free_port(), free_port()
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def sentinels(self) -> str:
        """``REDIS_SENTINELS`` for the application."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def _redis(self, name: str, port: int, *extra: str) -> None:
        folder = self.folder / name
        folder.mkdir(parents=True, exist_ok=True)
        args = [self.server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(folder), "--logfile", str(folder / "redis.log"), *extra]
        self.procs[name] = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def start(self) -> None:
        self._redis("master", self.master_port)
        self._redis("replica", self.replica_port, "--replicaof", "127.0.0.1", str(self.master_port))
        _wait_until(lambda: self._replica_in_sync(), 15, "the replica")
        for n, port in enumerate(self.sentinel_ports):
            folder = self.folder / f"sentinel{n}"
            folder.mkdir(parents=True, exist_ok=True)
            # Sentinel rewrites its file (what it learnt: replicas, other sentinels, epochs).
            config = folder / "sentinel.conf"
            config.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\nlogfile {folder / 'sentinel.log'}\n"
                f"sentinel monitor {self.master_name} 127.0.0.1 {self.master_port} 2\n"
                f"sentinel down-after-milliseconds {self.master_name} 1000\n"
                f"sentinel failover-timeout {self.master_name} 4000\n"
                f"sentinel parallel-syncs {self.master_name} 1\n"
            )
            self.procs[f"sentinel{n}"] = subprocess.Popen(
                [self.sentinel, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
        # Ready for a failover: every sentinel knows the replica and the two other sentinels.
        _wait_until(self._sentinels_ready, 20, "the sentinels")

    def _replica_in_sync(self) -> bool:
        try:
            info = redis.Redis(port=self.replica_port, socket_timeout=0.5).info("replication")
        except redis.RedisError:
            return False
        return bool(info.get("master_link_status") == "up")

    def _sentinels_ready(self) -> bool:
        try:
            for port in self.sentinel_ports:
                client = redis.Redis(port=port, socket_timeout=0.5, decode_responses=True)
                state = client.sentinel_master(self.master_name)
                if int(state["num-other-sentinels"]) < 2 or int(state["num-slaves"]) < 1:
                    return False
        except redis.RedisError:
            return False
        return True

    def master_port_now(self) -> int | None:
        """The master's port as the sentinels name it (a majority agreeing), or None."""
        named = []
        for port in self.sentinel_ports:
            try:
                address = redis.Redis(port=port, socket_timeout=0.5).sentinel_get_master_addr_by_name(self.master_name)
            except redis.RedisError:
                continue
            if address:
                named.append(int(address[1]))
        for candidate in set(named):
            if named.count(candidate) >= 2:
                return candidate
        return None

    def kill_master(self) -> None:
        """SIGKILL the master: no shutdown, no last write to its replica."""
        proc = self.procs.pop("master")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def wait_for_promotion(self, timeout: float = 30) -> float:
        """Wait until the sentinels name the replica as the master and it accepts writes; seconds waited."""
        started = time.monotonic()

        def promoted() -> bool:
            if self.master_port_now() != self.replica_port:
                return False
            try:
                return bool(
                    redis.Redis(port=self.replica_port, socket_timeout=0.5).info("replication")["role"] == "master"
                )
            except redis.RedisError:
                return False

        _wait_until(promoted, timeout, "the promotion of the replica")
        return time.monotonic() - started

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2, decode_responses=True)

    def stop(self) -> None:
        for proc in self.procs.values():
            _stop(proc)
        self.procs.clear()
