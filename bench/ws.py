"""What the websocket benchmarks share: tokens in bulk, a daphne with room for
many sockets, its resident memory, and an authenticated client socket.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.harness import process_tree
from bench.http import daphnes_start


def nofile_raise() -> int:
    """Raise this process's open-file limit to its hard limit (children inherit it); the new limit."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def tokens_create(user_ids: list[int]) -> dict[int, str]:
    """An API token per user, in bulk (``tokens.token_issue`` one by one takes minutes for 10,000)."""
    from wallets.accounts.tokens import tokens_issue_many

    return tokens_issue_many(user_ids=user_ids)


def redis_flush(redis_url: str) -> None:
    """Empty the benchmark's own Redis database (leftover groups from an earlier run)."""
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()


@contextmanager
def daphne(
    database_url: str, redis_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """One daphne process (it inherits the raised open-file limit); killed on exit, by its pid."""
    procs, ports = daphnes_start(1, database_url, redis_url, extra_env)
    try:
        yield procs[0], ports[0]
    finally:
        procs[0].terminate()
        try:
            procs[0].wait(10)
        except subprocess.TimeoutExpired:
            procs[0].kill()
            procs[0].wait(10)


@contextmanager
def daphnes(
    count: int, database_url: str, redis_url: str, extra_env: dict[str, str] | None = None
) -> Iterator[tuple[list[int], list[int]]]:
    """``count`` daphne processes behind one Redis (one service); their ports and pids. Killed on exit."""
    procs, ports = daphnes_start(count, database_url, redis_url, extra_env)
    try:
        yield ports, [proc.pid for proc in procs]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (``/proc/<pid>/stat``), seconds."""
    ticks = 0
    for process in [descendant for pid in pids for descendant in process_tree(pid)]:
        with open(f"/proc/{process}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its descendants (``VmRSS`` in ``/proc/<pid>/status``), KiB."""
    total = 0
    for process in process_tree(pid):
        with open(f"/proc/{process}/status") as status:
            total += next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))
    return total


async def socket_open(port: int, token: str, timeout: float = 10.0) -> tuple[ClientConnection, dict[str, Any], float]:
    """An authenticated ``/ws/wallet/`` socket, its hello frame, and the seconds from TCP connect to hello.

    Raises when the handshake fails or the first frame is not a hello (e.g. closed with 4401).
    """
    began = time.perf_counter()
    ws = await connect(
        f"ws://127.0.0.1:{port}/ws/wallet/",
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=timeout,
        ping_interval=None,  # daphne pings the client; the library answers on its own
        compression=None,
    )
    try:
        hello = json.loads(await asyncio.wait_for(ws.recv(), timeout))
    except BaseException:
        await ws.close()
        raise
    if hello.get("type") != "hello":
        await ws.close()
        raise RuntimeError(f"first frame is not hello: {hello!r}")
    return ws, hello, time.perf_counter() - began


def percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}
    ordered = sorted(values)

    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)

    return {"p50_ms": at(0.50), "p99_ms": at(0.99), "max_ms": round(ordered[-1], 3)}
