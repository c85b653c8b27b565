"""Where a benchmark's CPU goes, part by part: the stack's processes by their role, the PostgreSQL
and Redis servers, and the benchmark's own finished children (the clients of an HTTP run, the
worker processes of a service run).

On a two-core host every part competes for the same cores, so a ratio of two runs is bounded by
what each run costs the whole machine per operation; this says which part costs what. Counted from
``/proc/<pid>/stat`` (user + system). PostgreSQL is the whole server: the postmaster, its live
processes and those that exited (their time is the postmaster's ``cutime``), so connections a run
opens and closes count. The benchmark's children count once the benchmark has waited for them
(``RUSAGE_CHILDREN``): wrk, the forked clients and service workers all end with their run.
"""

from __future__ import annotations

import os
import resource
import statistics
from typing import TYPE_CHECKING

import psycopg

from bench.harness import process_tree

if TYPE_CHECKING:
    from bench.stack import Stack

TICK = 1 / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def _cpu(pid: int, *, waited_children: bool = False) -> float:
    """Seconds of CPU of ``pid`` (and of its children it has waited for)."""
    fields = _stat(pid)
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if waited_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks * TICK


def _cmdline(pid: int) -> str:
    with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
        return cmdline.read().replace(b"\0", b" ").decode(errors="replace")


def _sum(parts: dict[str, float], part: str, pid: int, *, waited_children: bool = False) -> None:
    try:
        parts[part] = parts.get(part, 0.0) + _cpu(pid, waited_children=waited_children)
    except (FileNotFoundError, ProcessLookupError):
        pass  # exited between the listing and the read


def role(command: str, web_server: str) -> str:
    """What a process of `make serve`'s stack is, from its command line."""
    if "honcho" in command or "deploy.relay" in command or "deploy/serve.py" in command:
        return "relay"  # serve.py and honcho (deploy/relay.py): supervision, and every log line the others write
    if "nginx" in command:
        return "nginx"
    if "daphne" in command and web_server != "daphne":
        return "ws"
    return "web"


def postmaster(database_url: str) -> int | None:
    """The PostgreSQL server's postmaster, when it runs on this machine."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    backend = row[0] if row else 0
    if not os.path.exists(f"/proc/{backend}/stat"):
        return None
    return int(_stat(backend)[1])  # the backend's parent


def redis_server(redis_url: str) -> int | None:
    """The Redis server's process, when it runs on this machine."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        pid = int(client.info("server")["process_id"])
    finally:
        client.close()
    return pid if os.path.exists(f"/proc/{pid}/stat") else None


class Meter:
    """Snapshots of the machine's CPU by part; ``per_op`` turns two into milliseconds per operation."""

    def __init__(self, database_url: str | None, redis_url: str | None, stack: Stack | None = None) -> None:
        self.stack = stack
        self.postmaster = postmaster(database_url) if database_url else None
        self.redis = redis_server(redis_url) if redis_url else None

    def snapshot(self) -> dict[str, float]:
        parts: dict[str, float] = {}
        if self.stack is not None:
            for pid in process_tree(self.stack.proc.pid):
                try:
                    part = role(_cmdline(pid), self.stack.server)
                except (FileNotFoundError, ProcessLookupError):
                    continue
                _sum(parts, part, pid)
        if self.postmaster is not None:
            parts["postgres"] = 0.0
            _sum(parts, "postgres", self.postmaster, waited_children=True)  # with the backends that exited
            for pid in process_tree(self.postmaster)[1:]:
                _sum(parts, "postgres", pid)
        if self.redis is not None:
            _sum(parts, "redis", self.redis)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        parts["children"] = usage.ru_utime + usage.ru_stime
        return parts


def per_op(before: dict[str, float], after: dict[str, float], ops: int, *, children: str) -> dict[str, float]:
    """Milliseconds of CPU per operation by part (``children`` names the benchmark's children), and their total."""
    if not ops:
        return {}
    spent = {(children if k == "children" else k): max(0.0, after[k] - before.get(k, 0.0)) for k in after}
    out = {k: round(v * 1000 / ops, 3) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    out["total"] = round(sum(spent.values()) * 1000 / ops, 3)
    return out


def median(splits: list[dict[str, float]]) -> dict[str, float]:
    """Each part's median over runs (a part missing from a run counts as 0 there)."""
    keys = {k for split in splits for k in split}
    return {k: round(statistics.median(s.get(k, 0.0) for s in splits), 3) for k in sorted(keys)} if splits else {}
