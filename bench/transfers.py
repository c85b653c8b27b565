"""`transfers`: the service function against the raw-SQL ceiling, same run, same database.

Django: ``wallets.services.transfer_create`` (no HTTP), each worker a process
with its own connection. Ceiling: the same transfer as raw SQL
through psycopg 3, the service's driver (which prepares the ceiling's repeated
statements server-side; Django's backend does not) — one transaction that
locks both wallet rows in id order, updates both balances and inserts one
ledger row. Scenarios: ``spread`` (random pairs
over many wallets: low contention) and ``hot`` (every transfer touches one
wallet, in both directions). ``django`` runs without the on-commit push (as
the ceiling, which pushes nothing); ``django+push`` with it, through
channels-redis (Redis DB ``--redis-url``), to groups nobody listens to here,
between two runs without it (``django`` before, ``django (again)`` after): the
push ratio is its rate over their mean. Each ``ratio`` is to the ceiling of the
same scenario and worker count.

``--rtt MS`` puts PostgreSQL across an emulated network (``bench/netem.py``: a
server of the benchmark's own in a network namespace, MS of round trip away;
Redis stays local) and adds, in the same run, what a hot wallet is bound by
there: ``django-steps``, the transfer statement by statement as before the
one-statement function (lock, update, insert, each a round trip with the rows
locked: ``wallets.transfer_function.ONE_STATEMENT`` off), and ``raw-1rt``, the
single-round-trip ceiling (``paylane_transfer`` called alone in autocommit:
one round trip per transfer, no BEGIN, no COMMIT of its own, no outbox row).
``vs_steps`` is each run's rate over ``django-steps``'s (``--paths`` chooses
the runs).
"""

from __future__ import annotations

import argparse
import random
import statistics
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from bench import harness, netem

BALANCE = Decimal("1000000000.00")
# Every benchmark user's payment PIN: the HTTP benchmark pays with it, as a person would.
PIN = "4826"
NO_LIMIT = Decimal("999999999999.99")
SQL_LOCK = "SELECT id FROM wallets_wallet WHERE user_id IN (%s, %s) ORDER BY id FOR UPDATE"
# The debit keeps the daily-limit counter too: the ceiling does the same work as the service.
SQL_DEBIT = (
    "UPDATE wallets_wallet SET balance = balance - %(amount)s, version = version + 1, "
    "spent_today = CASE WHEN spent_on = %(today)s THEN spent_today + %(amount)s ELSE %(amount)s END, "
    "spent_on = %(today)s WHERE user_id = %(user)s RETURNING balance, version"
)
SQL_CREDIT = (
    "UPDATE wallets_wallet SET balance = balance + %s, version = version + 1 WHERE user_id = %s "
    "RETURNING balance, version"
)
SQL_INSERT = (
    "INSERT INTO ledger_transaction (transaction_type, status, amount, currency, sender_id, receiver_id, "
    "sender_balance_after, sender_version_after, receiver_balance_after, receiver_version_after, "
    "failure_reason, created_at, note, corrects_id, row_hash) VALUES ('TRANSFER', 'SUCCESS', %(amount)s, 'INR', "
    "%(sender_id)s, %(receiver_id)s, %(sender_balance_after)s, %(sender_version_after)s, "
    "%(receiver_balance_after)s, %(receiver_version_after)s, '', %(created_at)s, '', NULL, %(row_hash)s)"
)


def wallets_create(count: int) -> list[int]:
    """``count`` funded users with the payment PIN ``PIN`` (bulk insert, with matching ADD_MONEY rows so
    verify_ledger holds)."""
    from django.core.management import call_command
    from django.utils import timezone

    from ledger.hashing import ROW_FIELDS, row_hash_compute
    from ledger.models import Transaction
    from wallets.accounts.pins import pin_hash
    from wallets.models import PaymentPin, Profile, User, Wallet

    call_command("migrate", verbosity=0)
    users = User.objects.bulk_create([User(username=f"bench{i}", password="!") for i in range(count)], batch_size=2000)
    # Verified numbers, as after each person typed the code sent to them (sending thousands of
    # codes would measure the fixture, not the service; tests cover the flow itself).
    verified_at = timezone.now()
    Profile.objects.bulk_create(
        [Profile(user=u, mobile_number=f"+9170{i:08d}", mobile_verified_at=verified_at) for i, u in enumerate(users)],
        batch_size=2000,
    )
    Wallet.objects.bulk_create(
        [Wallet(user=u, balance=BALANCE, version=1, daily_limit=NO_LIMIT) for u in users], batch_size=2000
    )
    # One hash (one salt) for all: hashing thousands of PINs would measure the fixture. Each check
    # still costs what a person's does (the hash is verified on every payment).
    hashed = pin_hash(PIN)
    PaymentPin.objects.bulk_create([PaymentPin(user=u, pin_hash=hashed) for u in users], batch_size=2000)
    top_ups = [
        Transaction(
            transaction_type="ADD_MONEY",
            status="SUCCESS",
            amount=BALANCE,
            currency="INR",
            receiver=u,
            receiver_balance_after=BALANCE,
            receiver_version_after=1,
            created_at=timezone.now(),
        )
        for u in users
    ]
    for row in top_ups:
        row.row_hash = row_hash_compute({name: getattr(row, name) for name in ROW_FIELDS})
    Transaction.objects.bulk_create(top_ups, batch_size=2000)
    return [u.pk for u in users]


def pairs(scenario: str, user_ids: list[int], seed: int) -> Callable[[], tuple[int, int]]:
    rng = random.Random(seed)
    hot, others = user_ids[0], user_ids[1:]

    def next_pair() -> tuple[int, int]:
        if scenario == "hot":
            other = rng.choice(others)
            return (hot, other) if rng.random() < 0.5 else (other, hot)
        a, b = rng.sample(user_ids, 2)
        return a, b

    return next_pair


def django_job(
    scenario: str, user_ids: list[int], *, push: bool, one_statement: bool = True
) -> Callable[[int], Callable[[], None]]:
    """The service in a loop; ``push=False`` skips the on-commit push (its query and its group_send);
    ``one_statement=False`` runs the transfer statement by statement (the path before the function)."""

    def make(index: int) -> Callable[[], None]:
        from realtime import notify
        from wallets import services, transfer_function
        from wallets.models import User

        transfer_function.ONE_STATEMENT = one_statement  # this worker process only
        if not push:  # this worker process only: the ceiling pushes nothing either
            notify.transaction_committed = lambda entry: None  # type: ignore[assignment]
        next_pair = pairs(scenario, user_ids, seed=index)

        def transfer() -> None:
            sender, receiver = next_pair()
            services.transfer_create(sender=User(pk=sender), to_user_id=receiver, amount="1.00")

        return transfer

    return make


def raw_job(scenario: str, user_ids: list[int], database_url: str) -> Callable[[int], Callable[[], None]]:
    def make(index: int) -> Callable[[], None]:
        import psycopg
        from django.utils import timezone

        from ledger.hashing import row_hash_compute

        conn = psycopg.connect(database_url)
        next_pair = pairs(scenario, user_ids, seed=index)
        amount = Decimal("1.00")

        def transfer() -> None:
            sender, receiver = next_pair()
            with conn.transaction(), conn.cursor() as cursor:  # one transaction, committed on exit
                cursor.execute(SQL_LOCK, (sender, receiver))
                cursor.execute(SQL_DEBIT, {"amount": amount, "today": timezone.localdate(), "user": sender})
                s_balance, s_version = cursor.fetchone() or (None, None)
                cursor.execute(SQL_CREDIT, (amount, receiver))
                r_balance, r_version = cursor.fetchone() or (None, None)
                row = {
                    "transaction_type": "TRANSFER",
                    "status": "SUCCESS",
                    "amount": amount,
                    "currency": "INR",
                    "sender_id": sender,
                    "receiver_id": receiver,
                    "sender_balance_after": s_balance,
                    "sender_version_after": s_version,
                    "receiver_balance_after": r_balance,
                    "receiver_version_after": r_version,
                    "failure_reason": "",
                    "created_at": timezone.now(),
                }
                # The service hashes every row it appends; the ceiling does the same work.
                cursor.execute(SQL_INSERT, {**row, "row_hash": row_hash_compute(row)})

        return transfer

    return make


def raw_one_job(scenario: str, user_ids: list[int], database_url: str) -> Callable[[int], Callable[[], None]]:
    """The single-round-trip ceiling: the one-statement transfer, alone, committed by the server."""

    def make(index: int) -> Callable[[], None]:
        import psycopg
        from django.conf import settings

        from wallets.services import MAX_BALANCE

        conn = psycopg.connect(database_url, autocommit=True)
        next_pair = pairs(scenario, user_ids, seed=index)
        amount = Decimal("1.00")
        fixed = (settings.PAYLANE_CURRENCY, settings.PAYLANE_DAILY_LIMIT, MAX_BALANCE, settings.TIME_ZONE)

        def transfer() -> None:
            sender, receiver = next_pair()
            row = conn.execute(SQL_ONE, (sender, receiver, amount, "", *fixed)).fetchone()
            if row is None or row[0] != "ok":
                raise RuntimeError(f"paylane_transfer: {row}")

        return transfer

    return make


SQL_ONE = "SELECT outcome FROM paylane_transfer(%s, %s, %s, %s, %s, %s, %s, %s)"


def queries_per_transfer(user_ids: list[int], *, one_statement: bool = True) -> tuple[int, int, int]:
    """Database round trips of one transfer: (in the transaction, BEGIN to COMMIT; of them, with the
    wallet rows locked, from the lock to COMMIT included; after COMMIT, for the push)."""
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from realtime import notify
    from wallets import services, transfer_function
    from wallets.models import User

    # The push's query runs; its send does not (no pusher thread in this process: workers are forked from it).
    with (
        mock.patch.object(notify, "_push"),
        mock.patch.object(transfer_function, "ONE_STATEMENT", one_statement),
        CaptureQueriesContext(connection) as captured,
    ):
        services.transfer_create(sender=User(pk=user_ids[1]), to_user_id=user_ids[2], amount="1.00")
    sql = [q["sql"] for q in captured.captured_queries]  # Django 6 lists BEGIN and COMMIT too
    commit = max(i for i, q in enumerate(sql) if q.upper().startswith("COMMIT"))
    lock = min(i for i, q in enumerate(sql) if "FOR UPDATE" in q.upper() or "PAYLANE_TRANSFER" in q.upper())
    return commit + 1, commit - lock + 1, len(sql) - commit - 1


# issue 15: the service with its on-commit push, at least this share of the same service without it.
PUSH_RATIO_TARGET = 0.8
# The run without the push measured again right after the one with it (the ratio's other half).
AGAIN = "django (again)"


def push_ratios_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each scenario and worker count run with and without the push: transfers/s with the push
    over the mean of the runs without it just before and just after (``django``, ``django+push``,
    ``django (again)``), so that a drift of the machine's speed moves both sides, as in bench http."""
    by_run = {(row["label"], row["workers"]): row for row in rows}
    ratios = []
    for row in rows:
        if row["label"].startswith("django+push/"):
            scenario = row["label"].split("/", 1)[1]
            around = [by_run.get((f"{path}/{scenario}", row["workers"])) for path in ("django", AGAIN)]
            without = statistics.fmean(r["per_second"] for r in around if r) if any(around) else 0.0
            if without:
                ratio = round(row["per_second"] / without, 3)
                ratios.append({"scenario": scenario, "workers": row["workers"], "push_ratio": ratio})
    return ratios


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench transfers", description=__doc__)
    parser.add_argument("--database-url", default=harness.DEFAULT_DATABASE_URL)
    parser.add_argument("--wallets", type=int, default=10_000)
    parser.add_argument("--workers", default="1,4,8,16")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--scenarios", default="spread,hot")
    parser.add_argument(
        "--push-scenarios", default="spread", help="scenarios also run with the push to both parties (Redis layer)"
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--name", default="transfers", help="result file: bench/results/<name>.json")
    parser.add_argument("--rtt", type=float, metavar="MS", help=netem.RTT_HELP)
    parser.add_argument(
        "--paths",
        help="runs besides the push ones, of raw-sql, raw-1rt, django-steps, django "
        "(default: raw-sql,django; with --rtt all four)",
    )
    args = parser.parse_args(argv)
    if args.paths is None:
        args.paths = "raw-sql,raw-1rt,django-steps,django" if args.rtt is not None else "raw-sql,django"
    if args.rtt is None:
        return run(args, args.database_url, network=None)
    name = urlsplit(args.database_url).path.lstrip("/")
    with netem.postgres_across(args.rtt) as remote:
        round_trip = netem.round_trip_ms(f"{remote.url}/postgres")
        network = {"rtt_ms": args.rtt, "delay": remote.delay, "select_1_min_p50_ms": round_trip}
        print(f"PostgreSQL at {args.rtt} ms RTT ({remote.delay}); SELECT 1 min/p50: {round_trip} ms")
        return run(args, f"{remote.url}/{name}", network=network)


def run(args: argparse.Namespace, database_url: str, *, network: dict[str, Any] | None) -> dict[str, Any]:
    harness.database_recreate(database_url)
    harness.django_setup(database_url, args.redis_url)
    user_ids = wallets_create(args.wallets)
    paths = args.paths.split(",")
    round_trips, locked, push_round_trips = queries_per_transfer(user_ids)
    steps_round_trips, steps_locked, _ = queries_per_transfer(user_ids, one_statement=False)
    jobs: dict[str, Callable[[str], Callable[[int], Callable[[], None]]]] = {
        "raw-sql": lambda scenario: raw_job(scenario, user_ids, database_url),
        "raw-1rt": lambda scenario: raw_one_job(scenario, user_ids, database_url),
        "django-steps": lambda scenario: django_job(scenario, user_ids, push=False, one_statement=False),
        "django": lambda scenario: django_job(scenario, user_ids, push=False),
    }

    rows: list[dict[str, Any]] = []
    for scenario in args.scenarios.split(","):
        for workers in [int(w) for w in args.workers.split(",")]:
            runs = [
                harness.measure(f"{path}/{scenario}", jobs[path](scenario), workers=workers, seconds=args.seconds)
                for path in paths
            ]
            if scenario in args.push_scenarios.split(","):
                for label, push in (("django+push", True), (AGAIN, False)):
                    job = django_job(scenario, user_ids, push=push)
                    runs.append(harness.measure(f"{label}/{scenario}", job, workers=workers, seconds=args.seconds))
            by_path = {run.label.split("/")[0]: run for run in runs}
            ceiling, steps = by_path.get("raw-sql"), by_path.get("django-steps")
            for run in runs:
                row = {"scenario": scenario, **run.summary()}
                if ceiling is not None:
                    row["ratio"] = round(run.per_second / ceiling.per_second, 3) if ceiling.per_second else None
                if steps is not None:
                    row["vs_steps"] = round(run.per_second / steps.per_second, 2) if steps.per_second else None
                rows.append(row)

    from django.core.management import call_command

    call_command("verify_ledger", verbosity=0)  # the benchmark itself must leave a consistent ledger
    print(
        f"database round trips per Django transfer: {round_trips} in the transaction ({locked} with the wallets "
        f"locked, COMMIT included), +{push_round_trips} (push); statement by statement (django-steps): "
        f"{steps_round_trips} ({steps_locked} locked)"
    )
    columns = ["label", "workers", "ops", "errors", "per_second", "p50_ms", "p99_ms", "ratio"]
    print(harness.table(rows, columns + (["vs_steps"] if "django-steps" in paths else [])))
    push_ratios = push_ratios_of(rows)
    for ratio in push_ratios:
        print(
            f"push ratio ({ratio['scenario']}, {ratio['workers']} workers): "
            f"django+push / mean(django, django (again)) = {ratio['push_ratio']} (target >= {PUSH_RATIO_TARGET})"
        )
    payload = {
        "args": vars(args),
        "network": network,
        "round_trips_per_transfer": round_trips,
        "round_trips_locked": locked,
        "push_round_trips": push_round_trips,
        "steps_round_trips_per_transfer": steps_round_trips,
        "steps_round_trips_locked": steps_locked,
        "runs": rows,
        "push_ratios": push_ratios,
    }
    print(f"wrote {harness.write_results(args.name, payload)}")
    return payload
