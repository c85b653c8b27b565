"""`latency`: commit of a transfer -> both parties' websocket clients have its event.

K users, each with one authenticated socket on one daphne process (Redis
channel layer), all held by one asyncio client process. Transfers among them go
through the service function in worker processes (the push leaves through
``transaction.on_commit`` and ``realtime.notify``, as in production). Phases:

1. ``max``: unpaced transfers from ``--max-workers`` processes for a few
   seconds: the maximum rate with every socket connected.
2. ``steady``: a paced rate (default: half that maximum) for ``--seconds``.
   A pause (``--settle``) lets its backlog drain.
3. an idle gap (``--gap``, over 5 s) with nothing sent, then
4. ``burst``: ``--burst`` transfers unpaced.

Commit time: the worker wraps ``realtime.notify.transaction_committed`` (looked
up when the service registers its on-commit callback) and stamps
``time.time()`` as it starts, i.e. right after COMMIT, before the push query.
Clients stamp ``time.time()`` when a frame is parsed; same machine, same clock.
Missed events are counted against the ledger: every TRANSFER row after the
start must reach its sender's and its receiver's socket, by seq.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import random
import time
from typing import Any

from bench import harness
from bench.http import DEFAULT_REDIS_URL
from bench.transfers import wallets_create
from bench.ws import cpu_seconds, daphne, nofile_raise, percentiles, redis_flush, socket_open, tokens_create

Stamp = tuple[int, int, int, float]  # seq, sender, receiver, commit time
# issues 7 and 15: commit to both parties' events in the steady phase (1,000 and 2,000 sockets).
STEADY_P99_TARGET_MS = 10.0


# --- Clients ---------------------------------------------------------------------------


async def _clients(port: int, tokens: dict[int, str], conn: Any, connect_concurrency: int) -> None:
    received: list[tuple[int, int, float]] = []  # user_id, seq, time.time()
    limit = asyncio.Semaphore(connect_concurrency)
    handshakes: list[float] = []

    async def one(user_id: int, token: str) -> Any:
        async with limit:
            ws, _, seconds = await socket_open(port, token, timeout=30)
            handshakes.append(seconds * 1000)
            return ws

    sockets = await asyncio.gather(*(one(u, t) for u, t in tokens.items()), return_exceptions=True)
    opened = {u: ws for u, ws in zip(tokens, sockets, strict=True) if not isinstance(ws, BaseException)}

    async def read(user_id: int, ws: Any) -> None:
        try:
            async for raw in ws:
                now = time.time()
                frame = json.loads(raw)
                if frame.get("type") == "transaction":
                    received.append((user_id, frame["seq"], now))
        except Exception:
            pass

    readers = [asyncio.create_task(read(u, ws)) for u, ws in opened.items()]
    loop = asyncio.get_running_loop()
    conn.send(("ready", len(opened), len(tokens) - len(opened), percentiles(handshakes)))
    expected: int = await loop.run_in_executor(None, conn.recv)
    deadline = time.monotonic() + 15
    while len(received) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.2)  # late duplicates, if any, would show here
    for ws in opened.values():
        await ws.close()
    for task in readers:
        task.cancel()
    conn.send(received)


def clients_main(port: int, tokens: dict[int, str], conn: Any, connect_concurrency: int) -> None:
    harness.inherited_heap_freeze()
    asyncio.run(_clients(port, tokens, conn, connect_concurrency))


# --- Transfers -------------------------------------------------------------------------


def _driver(index: int, user_ids: list[int], rate: float | None, seconds: float, count: int, out: Any) -> None:

    from realtime import notify
    from wallets import services
    from wallets.models import User

    harness.inherited_heap_freeze()
    harness.connections_release()
    stamps: list[Stamp] = []
    original = notify.transaction_committed

    def stamped(entry: Any) -> None:
        stamps.append((entry.pk, entry.sender_id, entry.receiver_id, time.time()))
        original(entry)

    notify.transaction_committed = stamped  # type: ignore[assignment]
    rng = random.Random(index * 7919 + int(time.time()))
    errors = 0
    interval = 1 / rate if rate else 0.0
    began = time.perf_counter()
    next_at = began + rng.random() * interval
    done = 0
    while (count and done < count) or (not count and time.perf_counter() - began < seconds):
        if interval:
            delay = next_at - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            next_at += interval
        sender, receiver = rng.sample(user_ids, 2)
        try:
            services.transfer_create(sender=User(pk=sender), to_user_id=receiver, amount="1.00")
        except Exception:
            errors += 1
        done += 1
    elapsed = time.perf_counter() - began
    notify.Pusher.get(notify.get_channel_layer()).flush(10)  # type: ignore[arg-type]
    harness.connections_release()
    out.put((stamps, errors, elapsed))


def drive(
    user_ids: list[int], *, workers: int, rate: float | None = None, seconds: float = 0.0, count: int = 0
) -> tuple[list[Stamp], int, float]:
    """Transfers from ``workers`` processes: ``rate`` per second in all (None: as fast as they go)."""

    harness.connections_release()
    ctx = mp.get_context("fork")
    out = ctx.Queue()
    per_worker_rate = rate / workers if rate else None
    per_worker_count = -(-count // workers) if count else 0
    procs = [
        ctx.Process(target=_driver, args=(i, user_ids, per_worker_rate, seconds, per_worker_count, out))
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    stamps = [s for r in results for s in r[0]]
    return stamps, sum(r[1] for r in results), max(r[2] for r in results)


# --- Report ----------------------------------------------------------------------------


def delivery(stamps: list[Stamp], arrivals: dict[tuple[int, int], float]) -> dict[str, Any]:
    """Latency from commit to the later of the two parties' arrivals, and events that never arrived."""
    latencies: list[float] = []
    missed = 0
    for seq, sender, receiver, committed in stamps:
        got = [arrivals.get((sender, seq)), arrivals.get((receiver, seq))]
        if None in got:
            missed += sum(1 for g in got if g is None)
            continue
        latencies.append((max(g for g in got if g is not None) - committed) * 1000)
    return {"transfers": len(stamps), "missed_events": missed, **percentiles(latencies)}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench latency", description=__doc__)
    parser.add_argument("--database-url", default=harness.DEFAULT_DATABASE_URL + "_latency")
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--sockets", type=int, default=2_000, help="K: users, one socket each (issue 15: 2,000)")
    parser.add_argument("--max-workers", type=int, default=4)
    parser.add_argument("--max-seconds", type=float, default=3.0)
    parser.add_argument("--rate", type=float, default=0.0, help="steady transfers/s (0: half the measured max)")
    parser.add_argument("--workers", type=int, default=2, help="processes sending the steady rate")
    parser.add_argument("--seconds", type=float, default=20.0, help="steady phase")
    parser.add_argument("--settle", type=float, default=3.0, help="pause after the max phase")
    parser.add_argument("--gap", type=float, default=6.0, help="idle seconds before the final burst")
    parser.add_argument("--burst", type=int, default=200)
    parser.add_argument(
        "--keep-redis", action="store_true", help="do not empty the Redis database first (shared: smoke runs)"
    )
    parser.add_argument("--name", default="latency")
    args = parser.parse_args(argv)

    nofile_raise()
    harness.database_recreate(args.database_url)
    if not args.keep_redis:
        redis_flush(args.redis_url)
    harness.django_setup(args.database_url, args.redis_url)
    user_ids = wallets_create(args.sockets)
    tokens = tokens_create(user_ids)
    harness.database_settle(args.database_url)
    from django.core.management import call_command

    from ledger.models import Transaction

    start_seq = Transaction.objects.order_by("-id").values_list("id", flat=True).first() or 0
    harness.connections_release()

    with daphne(args.database_url, args.redis_url) as (server, port):
        ctx = mp.get_context("fork")
        ours, theirs = ctx.Pipe()
        client = ctx.Process(target=clients_main, args=(port, tokens, theirs, 50))
        client.start()
        try:
            if not ours.poll(120):
                raise RuntimeError("clients did not connect within 120 s")
            _, opened, refused, handshake = ours.recv()
            phases: dict[str, list[Stamp]] = {}
            errors = 0
            stamps, e, elapsed = drive(user_ids, workers=args.max_workers, seconds=args.max_seconds)
            phases["max"], errors = stamps, errors + e
            max_rate = len(stamps) / elapsed
            rate = args.rate or max_rate / 2
            time.sleep(args.settle)  # the saturated phase's backlog drains before the steady clock starts
            cpu_before = cpu_seconds([server.pid])
            stamps, e, elapsed = drive(user_ids, workers=args.workers, rate=rate, seconds=args.seconds)
            # daphne's CPU per event it delivered in the steady phase (steadier than latency on a busy machine).
            steady_cpu_us = 1e6 * (cpu_seconds([server.pid]) - cpu_before) / max(1, 2 * len(stamps))
            phases["steady"], errors = stamps, errors + e
            steady_rate = len(stamps) / elapsed
            time.sleep(args.gap)
            stamps, e, _ = drive(user_ids, workers=args.max_workers, count=args.burst)
            phases["burst"], errors = stamps, errors + e
            sent = [s for p in phases.values() for s in p]
            ours.send(2 * len(sent))
            if not ours.poll(60):
                raise RuntimeError("clients did not report")
            received: list[tuple[int, int, float]] = ours.recv()
            client.join(30)
        finally:
            if client.is_alive():
                client.kill()
                client.join()

    arrivals: dict[tuple[int, int], float] = {}
    duplicates = 0
    for user_id, seq, at in received:
        if (user_id, seq) in arrivals:
            duplicates += 1
        arrivals.setdefault((user_id, seq), at)
    # The ledger is the truth: every TRANSFER committed during the run, by seq, against what the clients got.
    ledger = list(
        Transaction.objects.filter(id__gt=start_seq, transaction_type="TRANSFER").values_list(
            "id", "sender_id", "receiver_id"
        )
    )
    stamped = {s[0] for s in sent}
    unstamped = [row for row in ledger if row[0] not in stamped]
    missed_vs_ledger = sum(1 for seq, s, r in ledger for user in (s, r) if (user, seq) not in arrivals)
    call_command("verify_ledger", verbosity=0)

    rows = [{"phase": name, **delivery(p, arrivals)} for name, p in phases.items()]
    report = {
        "args": vars(args),
        "sockets_open": opened,
        "sockets_refused": refused,
        "handshake": handshake,
        "max_rate_per_second": round(max_rate, 1),
        "steady_rate_per_second": round(steady_rate, 1),
        "steady_daphne_cpu_us_per_event": round(steady_cpu_us, 1),
        "errors": errors,
        "ledger_transfers": len(ledger),
        "ledger_rows_without_commit_stamp": len(unstamped),
        "missed_events": missed_vs_ledger,
        "duplicate_events": duplicates,
        "phases": rows,
    }
    print(
        f"sockets {opened} (refused {refused}), max {max_rate:.0f}/s, steady {steady_rate:.0f}/s, "
        f"errors {errors}, ledger transfers {len(ledger)}, missed {missed_vs_ledger}, duplicates {duplicates}"
    )
    print(harness.table(rows, ["phase", "transfers", "missed_events", "p50_ms", "p99_ms", "max_ms"]))
    steady = next((row for row in rows if row["phase"] == "steady"), None)
    if steady is not None:
        print(
            f"latency target: {opened} sockets, steady phase p99 {steady['p99_ms']} ms (target <= "
            f"{STEADY_P99_TARGET_MS:.0f}), missed {missed_vs_ledger} (target 0); daphne CPU "
            f"{steady_cpu_us:.0f} us per event delivered"
        )
    print(f"wrote {harness.write_results(args.name, report)}")
    return report
