"""Crash chaos on PostgreSQL: workers SIGKILLed mid-transaction, backends terminated.

Afterwards no transfer is half done: money is conserved, every wallet replays
from its ledger, and every transfer a worker saw commit is in the ledger once.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from ledger.models import Transaction
from wallets.models import User, Wallet

ROOT = Path(__file__).resolve().parents[2]
CHAOS_SECONDS = float(os.environ.get("PAYLANE_CHAOS_SECONDS", "6"))

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


class Worker:
    def __init__(self, seed: int, user_ids: list[int]) -> None:
        db = connection.settings_dict
        url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{quote(db['NAME'])}?application_name=chaos"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.wallets.chaos_worker", str(seed), *map(str, user_ids)],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout or []), daemon=True)
        self.reader.start()

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.reader.join(5)


def terminate_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'chaos' AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_killed_workers_and_dropped_connections_leave_no_partial_transfer(register: Callable[..., User]) -> None:
    users = [register(f"c{i}", balance="1000.00") for i in range(5)]
    ids = [u.pk for u in users]
    rng = random.Random(7)
    workers = [Worker(seed, ids) for seed in range(3)]
    finished: list[Worker] = []
    kills = dropped = 0
    deadline = time.monotonic() + CHAOS_SECONDS
    time.sleep(1.0)  # let them start transferring
    while time.monotonic() < deadline:
        time.sleep(rng.uniform(0.05, 0.4))
        if rng.random() < 0.6:
            victim = workers.pop(rng.randrange(len(workers)))
            victim.kill()
            finished.append(victim)
            kills += 1
            workers.append(Worker(rng.randrange(10**6), ids))
        else:
            dropped += terminate_backends()
    for worker in workers:
        worker.kill()
        finished.append(worker)

    lines = [line.split() for w in finished for line in w.lines]
    committed = [int(parts[1]) for parts in lines if parts[0] == "OK"]
    ledger_ids = set(
        Transaction.objects.filter(transaction_type="TRANSFER", status="SUCCESS").values_list("id", flat=True)
    )
    balances = list(Wallet.objects.values_list("balance", flat=True))
    drift = sum(balances, Decimal(0)) - Decimal("5000.00")
    duplicates = len(committed) - len(set(committed))
    print(
        f"\nchaos: attempted={len(lines)} committed_seen={len(committed)} ledger_transfers={len(ledger_ids)} "
        f"kills={kills} connections_dropped={dropped} drift={drift} duplicates={duplicates}"
    )
    assert kills >= 3 and committed, "the chaos did not happen"
    assert len(committed) == len(set(committed)), "a transfer was reported twice"
    assert set(committed) <= ledger_ids, "a transfer reported as committed is missing from the ledger"
    assert all(b >= 0 for b in balances)
    assert Wallet.objects.aggregate(total=Sum("balance"))["total"] == Decimal("5000.00")
    call_command("verify_ledger", verbosity=0)
