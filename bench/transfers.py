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
channels-redis (Redis DB ``--redis-url``), to groups nobody listens to here.
Each ratio is to the ceiling of the same scenario and worker count.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench import harness

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


def django_job(scenario: str, user_ids: list[int], *, push: bool) -> Callable[[int], Callable[[], None]]:
    """The service in a loop; ``push=False`` skips the on-commit push (its query and its group_send)."""

    def make(index: int) -> Callable[[], None]:
        from realtime import notify
        from wallets import services
        from wallets.models import User

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


def queries_per_transfer(user_ids: list[int]) -> tuple[int, int]:
    """Database round trips of one transfer: (in the transaction, BEGIN to COMMIT; after COMMIT, for the push)."""
    from unittest import mock

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from realtime import notify
    from wallets import services
    from wallets.models import User

    # The push's query runs; its send does not (no pusher thread in this process: workers are forked from it).
    with mock.patch.object(notify, "_push"), CaptureQueriesContext(connection) as captured:
        services.transfer_create(sender=User(pk=user_ids[1]), to_user_id=user_ids[2], amount="1.00")
    sql = [q["sql"] for q in captured.captured_queries]  # Django 6 lists BEGIN and COMMIT too
    commit = max(i for i, q in enumerate(sql) if q.upper().startswith("COMMIT"))
    return commit + 1, len(sql) - commit - 1


# issue 15: the service with its on-commit push, at least this share of the same service without it.
PUSH_RATIO_TARGET = 0.8


def push_ratios_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For each scenario and worker count run with and without the push: transfers/s with / without."""
    by_run = {(row["label"], row["workers"]): row for row in rows}
    ratios = []
    for row in rows:
        if row["label"].startswith("django+push/"):
            scenario = row["label"].split("/", 1)[1]
            without = by_run.get((f"django/{scenario}", row["workers"]))
            if without and without["per_second"]:
                ratio = round(row["per_second"] / without["per_second"], 3)
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
    args = parser.parse_args(argv)

    harness.database_recreate(args.database_url)
    harness.django_setup(args.database_url, args.redis_url)
    user_ids = wallets_create(args.wallets)
    round_trips, push_round_trips = queries_per_transfer(user_ids)

    rows: list[dict[str, Any]] = []
    for scenario in args.scenarios.split(","):
        for workers in [int(w) for w in args.workers.split(",")]:
            ceiling = harness.measure(
                f"raw-sql/{scenario}",
                raw_job(scenario, user_ids, args.database_url),
                workers=workers,
                seconds=args.seconds,
            )
            runs = [ceiling]
            runs.append(
                harness.measure(
                    f"django/{scenario}",
                    django_job(scenario, user_ids, push=False),
                    workers=workers,
                    seconds=args.seconds,
                )
            )
            if scenario in args.push_scenarios.split(","):
                runs.append(
                    harness.measure(
                        f"django+push/{scenario}",
                        django_job(scenario, user_ids, push=True),
                        workers=workers,
                        seconds=args.seconds,
                    )
                )
            for run in runs:
                row = {"scenario": scenario, **run.summary()}
                row["ratio"] = round(run.per_second / ceiling.per_second, 3) if ceiling.per_second else None
                rows.append(row)

    from django.core.management import call_command

    call_command("verify_ledger", verbosity=0)  # the benchmark itself must leave a consistent ledger
    print(f"database round trips per Django transfer: {round_trips} in the transaction, +{push_round_trips} (push)")
    print(harness.table(rows, ["label", "workers", "ops", "errors", "per_second", "p50_ms", "p99_ms", "ratio"]))
    push_ratios = push_ratios_of(rows)
    for ratio in push_ratios:
        print(
            f"push ratio ({ratio['scenario']}, {ratio['workers']} workers): django+push / django = "
            f"{ratio['push_ratio']} (target >= {PUSH_RATIO_TARGET})"
        )
    payload = {
        "args": vars(args),
        "round_trips_per_transfer": round_trips,
        "push_round_trips": push_round_trips,
        "runs": rows,
        "push_ratios": push_ratios,
    }
    print(f"wrote {harness.write_results(args.name, payload)}")
    return payload
