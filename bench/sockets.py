"""`sockets`: a connect storm, then how many idle authenticated websockets one daphne holds.

``storm``: after five warm-up handshakes per daphne, ``--storm`` authenticated
handshakes started at ``--storm-rate`` per second (open loop: each starts on
schedule whatever the others do), round robin over ``--storm-daphnes`` fresh
daphne processes behind one Redis, as a load balancer would spread them; one
storm per rate of a comma list, so the report shows where the latency target
stops holding. A handshake counts as accepted when its hello frame arrives,
and its time runs from the TCP connect to that hello. The storm's client is
bench/wsclient.py (a handshake and a hello, little else: it shares the cores
with the servers it measures); its own CPU per handshake is reported beside
the daphnes'.

``hold``: ``--sockets`` sockets, one user each, opened by ``--clients`` client
processes (each process has its own file-descriptor budget) against another
fresh daphne, then left idle for ``--idle`` seconds. The daphne's resident
memory (``VmRSS``) is read after a warm-up handshake and again with every
socket open: the growth divided by the sockets held. At the end every client
sends a ping on a sample of its sockets and expects a pong: held means alive.

Every process started here is stopped by its pid at the end, even on failure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import resource
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench import harness
from bench.http import DEFAULT_REDIS_URL
from bench.transfers import wallets_create
from bench.ws import (
    cpu_seconds,
    daphne,
    daphnes,
    nofile_raise,
    percentiles,
    redis_flush,
    rss_kib,
    socket_open,
    tokens_create,
)
from bench.wsclient import hello_open

# issue 15's targets: the first storm rate (500/s) all accepted within this p99; idle sockets within this memory.
STORM_P99_TARGET_MS = 50.0
KIB_PER_SOCKET_TARGET = 50.0
# A PostgreSQL backend reports its counters at most every second, and an idle one 10 s after it fell idle.
STATS_FLUSH_SECONDS = 11.0


def xact_commits(database_url: str) -> int:
    """Transactions committed in the benchmark's database so far (``pg_stat_database.xact_commit``).

    Read from the server's ``postgres`` database, so this read is not counted.
    """
    import psycopg

    parts = urlsplit(database_url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        row = admin.execute(
            "SELECT xact_commit FROM pg_stat_database WHERE datname = %s", [parts.path.lstrip("/")]
        ).fetchone()
    return int(row[0]) if row else 0


# --- Connect storm ---------------------------------------------------------------------


async def _storm(ports: list[int], tokens: list[str], rate: float, timeout: float) -> dict[str, Any]:
    times: list[float] = []
    failures: list[str] = []
    sockets: list[Any] = []
    began = time.perf_counter()

    async def one(index: int, token: str) -> None:
        await asyncio.sleep(max(0.0, began + index / rate - time.perf_counter()))
        try:
            # Round robin over the daphnes, as a load balancer in front of them would.
            ws, seconds = await hello_open(ports[index % len(ports)], token, timeout=timeout)
        except Exception as exc:
            failures.append(type(exc).__name__)
            return
        times.append(seconds * 1000)
        sockets.append(ws)

    await asyncio.gather(*(one(i, t) for i, t in enumerate(tokens)))
    elapsed = time.perf_counter() - began
    for ws in sockets:
        await ws.close()
    return {
        "handshakes": len(tokens),
        "accepted": len(times),
        "accepted_pct": round(100 * len(times) / len(tokens), 2) if tokens else None,
        "failures": sorted(set(failures)),
        "offered_rate": rate,
        "seconds": round(elapsed, 2),
        **percentiles(times),
    }


def storm_main(ports: list[int], tokens: list[str], rate: float, timeout: float, out: Any) -> None:
    """One storm in this (forked) process; its result, with the client's own CPU per handshake."""
    harness.inherited_heap_freeze()
    before = resource.getrusage(resource.RUSAGE_SELF)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    try:  # uvloop (requirements-bench.txt) takes a third off the client's CPU; make test runs without it
        import uvloop

        loop_factory = uvloop.new_event_loop
    except ImportError:
        pass
    result = asyncio.run(_storm(ports, tokens, rate, timeout), loop_factory=loop_factory)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result["client_cpu_ms_per_handshake"] = round(1000 * cpu / max(1, len(tokens)), 2)
    out.put(result)


# --- Idle sockets ----------------------------------------------------------------------


async def _hold(port: int, tokens: list[str], conn: Any, concurrency: int, ping_sample: int) -> None:
    limit = asyncio.Semaphore(concurrency)
    failures: list[str] = []

    async def one(token: str) -> Any:
        async with limit:
            for _ in range(3):  # a refused handshake is retried: the count is of sockets held
                try:
                    ws, _, _ = await socket_open(port, token, timeout=30)
                except Exception as exc:
                    failures.append(type(exc).__name__)
                    continue
                return ws
            return None

    sockets = [ws for ws in await asyncio.gather(*(one(t) for t in tokens)) if ws is not None]
    loop = asyncio.get_running_loop()
    conn.send(("open", len(sockets), sorted(set(failures))))
    await loop.run_in_executor(None, conn.recv)  # idle until the parent has read the memory

    async def alive(ws: Any) -> bool:
        try:
            await ws.send(json.dumps({"type": "ping"}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                if frame.get("type") == "pong":
                    return True
        except Exception:
            return False

    sample = sockets[:: max(1, len(sockets) // ping_sample)] if sockets else []
    answered = sum(await asyncio.gather(*(alive(ws) for ws in sample)))
    closed = sum(1 for ws in sockets if ws.close_code is not None)
    conn.send(("alive", len(sample), answered, closed))
    for ws in sockets:
        await ws.close()


def hold_main(port: int, tokens: list[str], conn: Any, concurrency: int, ping_sample: int) -> None:
    asyncio.run(_hold(port, tokens, conn, concurrency, ping_sample))


def warm_up(ports: list[int], tokens: list[str]) -> None:
    """A few handshakes on each fresh daphne (imports, first queries), then closed: a running server is warm."""
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    proc = ctx.Process(target=storm_main, args=(ports, tokens, 100.0, 30.0, out))
    proc.start()
    out.get(timeout=60)
    proc.join()
    time.sleep(1)


def hold(port: int, pid: int, tokens: list[str], *, clients: int, idle: float, concurrency: int) -> dict[str, Any]:
    ctx = mp.get_context("fork")
    warm_up([port], tokens[-5:])  # so the baseline includes the code and caches every socket touches
    baseline = rss_kib(pid)
    shares = [tokens[i::clients] for i in range(clients)]
    pipes = [ctx.Pipe() for _ in shares]
    procs = [
        ctx.Process(target=hold_main, args=(port, share, theirs, concurrency, 50))
        for share, (_, theirs) in zip(shares, pipes, strict=True)
    ]
    began = time.perf_counter()
    for p in procs:
        p.start()
    try:
        opened, failures = 0, set()
        for ours, _ in pipes:
            if not ours.poll(600):
                raise RuntimeError("a client process did not finish connecting within 600 s")
            _, count, fails = ours.recv()
            opened += count
            failures.update(fails)
        connect_seconds = time.perf_counter() - began
        time.sleep(idle)
        held_rss = rss_kib(pid)
        for ours, _ in pipes:
            ours.send("check")
        sampled = answered = closed = 0
        for ours, _ in pipes:
            if not ours.poll(120):
                raise RuntimeError("a client process did not report")
            _, s, a, c = ours.recv()
            sampled, answered, closed = sampled + s, answered + a, closed + c
        for p in procs:
            p.join(60)
    finally:
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join()
    growth = held_rss - baseline
    return {
        "sockets_requested": len(tokens),
        "sockets_opened": opened,
        "open_failures": sorted(failures),
        "connect_seconds": round(connect_seconds, 1),
        "idle_seconds": idle,
        "closed_while_idle": closed,
        "ping_sampled": sampled,
        "ping_answered": answered,
        "rss_baseline_kib": baseline,
        "rss_held_kib": held_rss,
        "kib_per_socket": round(growth / opened, 2) if opened else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench sockets", description=__doc__)
    parser.add_argument("--database-url", default=harness.DEFAULT_DATABASE_URL + "_sockets")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--storm", type=int, default=1_000, help="handshakes in the connect storm (0: skip)")
    parser.add_argument(
        "--storm-rate",
        default="500,400,250",
        help="offered handshakes/s; a comma list runs one storm per rate (the first is the target's)",
    )
    parser.add_argument(
        "--storm-daphnes", type=int, default=2, help="daphne processes the storm is spread over (round robin)"
    )
    parser.add_argument("--sockets", type=int, default=10_000, help="idle sockets to hold (0: skip)")
    parser.add_argument("--clients", type=int, default=4, help="client processes for the idle sockets")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=10,
        help="handshakes in flight per client process (daphne drops those not accepted within 5 s)",
    )
    parser.add_argument("--idle", type=float, default=10.0)
    parser.add_argument(
        "--daphne-env", action="append", default=[], metavar="KEY=VALUE", help="extra setting for daphne (a lever)"
    )
    parser.add_argument(
        "--keep-redis", action="store_true", help="do not empty the Redis database first (shared: smoke runs)"
    )
    parser.add_argument("--name", default="sockets")
    args = parser.parse_args(argv)

    limit = nofile_raise()
    if args.sockets + 100 > limit:
        raise SystemExit(f"open-file limit {limit} is below --sockets {args.sockets}: raise the hard limit")
    harness.database_recreate(args.database_url)
    if not args.keep_redis:
        redis_flush(args.redis_url)
    harness.django_setup(args.database_url, args.redis_url)
    user_ids = wallets_create(max(args.storm, args.sockets, 5))
    tokens = list(tokens_create(user_ids).values())

    harness.connections_release()
    harness.database_settle(args.database_url)
    extra_env = dict(item.split("=", 1) for item in args.daphne_env)
    report: dict[str, Any] = {"args": vars(args), "nofile_limit": limit}
    ctx = mp.get_context("fork")
    if args.storm:
        rates = [float(rate) for rate in args.storm_rate.split(",")]
        postgres = args.database_url.startswith(("postgres://", "postgresql://"))
        with daphnes(args.storm_daphnes, args.database_url, args.redis_url, extra_env) as (ports, pids):
            warm_up(ports, tokens[-5 * len(ports) :])
            storms = []
            for rate in rates:
                out = ctx.Queue()
                proc = ctx.Process(target=storm_main, args=(ports, tokens[: args.storm], rate, 30.0, out))
                cpu_before = cpu_seconds(pids)
                if postgres:
                    time.sleep(STATS_FLUSH_SECONDS)  # the warm-up's (or the last storm's) counters reported
                    xacts_before = xact_commits(args.database_url)
                proc.start()
                try:
                    storms.append({"daphnes": len(ports), **out.get(timeout=args.storm / rate + 120)})
                finally:
                    proc.join(30)
                    if proc.is_alive():
                        proc.kill()
                        proc.join()
                time.sleep(1)  # the sockets of this storm close before the next one starts
                # The daphnes' CPU per handshake (its close included): steadier than latency on a busy machine.
                storms[-1]["daphne_cpu_ms_per_handshake"] = round(
                    1000 * (cpu_seconds(pids) - cpu_before) / args.storm, 2
                )
                if postgres:
                    # The database's transactions per handshake (pool health checks included): round trips.
                    time.sleep(STATS_FLUSH_SECONDS)
                    storms[-1]["xact_commit_per_handshake"] = round(
                        (xact_commits(args.database_url) - xacts_before) / args.storm, 2
                    )
        report["storm"], report["storms"] = storms[0], storms
        print("connect storm:")
        columns = ["daphnes", "handshakes", "offered_rate", "accepted_pct", "seconds", "p50_ms", "p99_ms", "max_ms"]
        extra = ["xact_commit_per_handshake"] if "xact_commit_per_handshake" in storms[0] else []
        print(harness.table(storms, [*columns, "daphne_cpu_ms_per_handshake", "client_cpu_ms_per_handshake", *extra]))
        first = storms[0]
        print(
            f"storm target: {first['handshakes']} handshakes at {first['offered_rate']:.0f}/s, accepted "
            f"{first['accepted_pct']} % (target 100), p99 {first['p99_ms']} ms (target <= {STORM_P99_TARGET_MS:.0f})"
        )
    if args.sockets:
        if not args.keep_redis:
            redis_flush(args.redis_url)
        with daphne(args.database_url, args.redis_url, extra_env) as (server, port):
            report["hold"] = hold(
                port,
                server.pid,
                tokens[: args.sockets],
                clients=args.clients,
                idle=args.idle,
                concurrency=args.concurrency,
            )
        print("idle sockets on one daphne:")
        columns = ["sockets_opened", "closed_while_idle", "ping_answered", "rss_baseline_kib", "rss_held_kib"]
        print(harness.table([report["hold"]], [*columns, "kib_per_socket"]))
        print(
            f"idle socket target: {report['hold']['kib_per_socket']} KiB each (target <= {KIB_PER_SOCKET_TARGET:.0f})"
        )
    print(f"wrote {harness.write_results(args.name, report)}")
    return report
