"""What every benchmark shares: a database of its own, Django set up for it,
worker processes released together, latency percentiles, and result files.
"""

from __future__ import annotations

import gc
import json
import multiprocessing as mp
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

RESULTS = Path(os.environ.get("PAYLANE_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/paylane_bench"


# Messages to phones as files (the one-time codes the HTTP benchmark's person reads back). Security
# alerts are queued by every transfer as in production (outbox rows); no worker runs to send them.
SMS_BACKEND = "file"
SMS_FOLDER = RESULTS / "sms"


def django_setup(database_url: str, redis_url: str | None = None) -> None:
    """Point Django at the benchmark database, production-like (DEBUG off: no query log).

    With ``redis_url`` the channel layer is channels-redis (pushes leave as in
    production); without, the in-memory layer, whatever the calling environment says.
    """
    os.environ["DATABASE_URL"] = database_url
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "benchmark-only-secret-key-" + "x" * 40)
    os.environ.setdefault("PAYLANE_SMS_BACKEND", SMS_BACKEND)
    os.environ.setdefault("PAYLANE_SMS_FILE_PATH", str(SMS_FOLDER))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def connections_release() -> None:
    """Close this process's database connections and connection pools.

    Called before forking workers and first thing in each worker: a child never
    shares its parent's sockets, nor a pool whose threads did not survive the fork.
    """
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        if connection.vendor == "postgresql":
            connection.close_pool()  # type: ignore[attr-defined]


def inherited_heap_freeze() -> None:
    """First thing in a forked process that measures: what it inherited, out of the collector's reach.

    A child forked after a benchmark's set-up inherits its parent's heap (Django, thousands of users
    and tokens). CPython's full collections walk every tracked object, so in the child each one
    took 100 to 300 ms and stalled whatever it was timing: the connect storm's p99 was 176 to 250 ms
    after the 10,000 users of the idle-socket set-up and 31 to 48 ms without them (the client's own
    CPU per handshake 0.44 against 0.31 ms), the daphnes unchanged. ``gc.freeze()`` moves it all
    to the permanent generation, as servers that fork their workers do.
    """
    gc.freeze()


def database_recreate(database_url: str) -> None:
    """Drop and create the benchmark's own database on the local server."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def database_settle(database_url: str) -> None:
    """After a benchmark's bulk set-up: fresh planner statistics and a checkpoint, as pgbench
    vacuums before it measures. Tables filled seconds ago still have the statistics of empty
    ones until autovacuum's ANALYZE comes round, and PostgreSQL plans the token's three-table
    lookup accordingly: the first connect storm after 10,000 fresh wallets had a p99 of 2.1 s
    against 0.9 s after 1,000 (docs/performance.md). Nothing to do on SQLite."""
    if not database_url.startswith(("postgres://", "postgresql://")):
        return
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        conn.execute("CHECKPOINT")


@dataclass
class Run:
    """One measured configuration."""

    label: str
    workers: int
    ops: int
    errors: int
    seconds: float
    latencies_ms: list[float] = field(repr=False)

    @property
    def per_second(self) -> float:
        return self.ops / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        if not self.latencies_ms:
            return float("nan")
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> dict[str, Any]:
        data = asdict(self)
        del data["latencies_ms"]
        data.update(
            per_second=round(self.per_second, 1),
            p50_ms=round(self.percentile(0.50), 3),
            p99_ms=round(self.percentile(0.99), 3),
            mean_ms=round(statistics.fmean(self.latencies_ms), 3) if self.latencies_ms else None,
        )
        return data


def _worker(
    job: Callable[[int], Callable[[], None]],
    index: int,
    seconds: float,
    start: Any,
    out: Any,
) -> None:
    inherited_heap_freeze()
    connections_release()
    operation = job(index)
    latencies: list[float] = []
    errors = 0
    start.wait()
    deadline = time.perf_counter() + seconds
    while (now := time.perf_counter()) < deadline:
        try:
            operation()
        except Exception:
            errors += 1
            continue
        latencies.append((time.perf_counter() - now) * 1000)
    connections_release()
    out.put((latencies, errors))


def measure(label: str, job: Callable[[int], Callable[[], None]], *, workers: int, seconds: float) -> Run:
    """Run ``job(i)()`` in a loop in ``workers`` processes for ``seconds``, all released together."""
    connections_release()
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(job, i, seconds, start, out)) for i in range(workers)]
    for p in procs:
        p.start()
    time.sleep(0.3)  # let every worker connect before the clock starts
    began = time.perf_counter()
    start.set()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    elapsed = time.perf_counter() - began
    for p in procs:
        p.join()
    latencies = [ms for lat, _ in results for ms in lat]
    return Run(label, workers, len(latencies), sum(e for _, e in results), elapsed, latencies)


# /proc/stat's first line: the machine's CPU time by kind, in clock ticks since boot.
CPU_KINDS = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")


def cpu_times(stat: str) -> dict[str, int]:
    """The machine's CPU ticks by kind, from the text of /proc/stat (its ``cpu`` line)."""
    fields = stat.splitlines()[0].split()
    if fields[0] != "cpu":
        raise ValueError(f"not /proc/stat's first line: {fields[0]!r}")
    return dict(zip(CPU_KINDS, map(int, fields[1 : 1 + len(CPU_KINDS)]), strict=False))


def read_cpu_times() -> dict[str, int] | None:
    try:
        return cpu_times(Path("/proc/stat").read_text())
    except (OSError, ValueError, IndexError):
        return None  # not Linux


def steal_pct(before: dict[str, int] | None, after: dict[str, int] | None) -> float | None:
    """The share of the machine's CPU time the hypervisor gave to others between two readings.

    A virtual machine's CPUs are shared with other machines on the host: "steal" is time a CPU of
    ours wanted to run and was not let. Every figure of a run with much of it is slower, and its
    latencies longer, than the code's own: the results record it beside them.
    """
    if before is None or after is None:
        return None
    total = sum(after.get(k, 0) - before.get(k, 0) for k in CPU_KINDS)
    return round(100 * (after.get("steal", 0) - before.get("steal", 0)) / total, 1) if total > 0 else None


# This benchmark's process started here: the steal in its results is over its whole run.
STARTED_CPU_TIMES = read_cpu_times()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        # Since this benchmark started (STARTED_CPU_TIMES), in % of the machine's CPU time.
        "cpu_steal_pct": steal_pct(STARTED_CPU_TIMES, read_cpu_times()),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **payload}, indent=2, default=str) + "\n")
    return path


def table(rows: list[dict[str, Any]], columns: list[str]) -> str:
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(str(r.get(c, "")).ljust(w) for c, w in zip(columns, widths, strict=True)) for r in rows]
    return "\n".join(lines)


def process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (a server that forks its workers counts with them); a descendant
    that exits while the tree is read is listed without its own children."""
    tree, index = [pid], 0
    while index < len(tree):
        try:
            for task in os.listdir(f"/proc/{tree[index]}/task"):
                with open(f"/proc/{tree[index]}/task/{task}/children") as children:
                    tree.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError):
            pass
        index += 1
    return tree
