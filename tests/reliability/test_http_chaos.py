"""HTTP crash chaos: daphne processes SIGKILLed mid-request, database backends terminated.

Client threads POST ``/api/v1/transfers/`` with a Bearer token and one
``Idempotency-Key`` per logical payment; a request that dies (connection reset,
500, 409) is retried with the same key and body against the other daphne until
it gets an answer. Afterwards: money conserved, ``verify_ledger`` clean, every
key that got a 201 (or a 422 recorded as FAILED) is in the ledger exactly once,
under the transaction id its answer named, and no ledger row exists without its
key (a duplicate or an orphan).

``PAYLANE_CHAOS_SECONDS`` sets how long the chaos lasts (default 8).
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db.models import Sum

from ledger.models import Transaction
from tests.conftest import PIN
from tests.support.chaos import KillableDaphne, terminate_backends
from wallets.accounts.tokens import token_issue
from wallets.models import IdempotencyKey, User, Wallet

CHAOS_SECONDS = float(os.environ.get("PAYLANE_CHAOS_SECONDS", "8"))
CLIENTS = 6
START_BALANCE = Decimal("150.00")  # low enough that some payments are refused (a FAILED row, replayed too)
APP = "httpchaos"

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@dataclass
class Payment:
    """One logical payment: its key, its body, and every answer any attempt got."""

    key: str
    sender: int
    body: dict[str, Any]
    answers: list[tuple[int, dict[str, Any], bool]] = field(default_factory=list)  # (status, body, replayed)
    interrupted: int = 0


def post(port: int, token: str, payment: Payment) -> tuple[int, dict[str, Any], bool]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST",
            "/api/v1/transfers/",
            body=json.dumps(payment.body),
            headers={
                "Authorization": f"Bearer {token}",
                "Idempotency-Key": payment.key,
                "Content-Type": "application/json",
            },
        )
        response = conn.getresponse()
        raw = response.read()
        try:
            body = json.loads(raw)
        except ValueError:
            body = {"raw": raw[:200].decode(errors="replace")}
        return response.status, body, response.getheader("Idempotent-Replayed") == "true"
    finally:
        conn.close()


def client(
    rng: random.Random,
    user: User,
    token: str,
    others: list[int],
    ports: Callable[[], list[int]],
    stop: threading.Event,
    out: list[Payment],
) -> None:
    while not stop.is_set():
        payment = Payment(
            key=str(uuid.UUID(int=rng.getrandbits(128))),
            sender=user.pk,
            body={"to_user_id": rng.choice(others), "amount": f"{rng.randint(1, 4000) / 100:.2f}", "pin": PIN},
        )
        out.append(payment)
        attempt = rng.randrange(2)
        for _ in range(60):  # the client keeps retrying the same key until it gets an answer
            port = ports()[attempt % 2]
            attempt += 1
            try:
                status, body, replayed = post(port, token, payment)
            except (OSError, http.client.HTTPException):
                payment.interrupted += 1  # killed mid-request, or not listening yet
                time.sleep(0.05)
                continue
            payment.answers.append((status, body, replayed))
            if status >= 500 or status == 409:
                time.sleep(0.05)
                continue
            break


def test_killed_daphnes_and_dropped_connections_never_duplicate_or_lose_an_idempotent_transfer(
    tmp_path: Path, register: Callable[..., User]
) -> None:
    users = [register(f"h{i}", balance=str(START_BALANCE)) for i in range(CLIENTS)]
    ids = [u.pk for u in users]
    before = Transaction.objects.count()
    env = {"PAYLANE_TRANSFER_RATE": "1000000/s"}
    servers = [KillableDaphne(log_dir=tmp_path, application_name=APP, extra_env=env) for _ in range(2)]
    payments: list[list[Payment]] = [[] for _ in users]
    stop = threading.Event()
    kills = dropped = 0
    rng = random.Random(int(os.environ.get("PAYLANE_CHAOS_SEED", "6")))
    try:
        for server in servers:
            server.start()
        threads = [
            threading.Thread(
                target=client,
                args=(
                    random.Random(rng.random()),
                    user,
                    token_issue(user=user),
                    [pk for pk in ids if pk != user.pk],
                    lambda: [s.port for s in servers],
                    stop,
                    payments[i],
                ),
            )
            for i, user in enumerate(users)
        ]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + CHAOS_SECONDS
        while time.monotonic() < deadline:
            time.sleep(rng.uniform(0.1, 0.6))
            if rng.random() < 0.5:
                victim = rng.choice(servers)
                victim.kill()
                kills += 1
                victim.start()
            else:
                dropped += terminate_backends(APP)
        stop.set()
        for thread in threads:
            thread.join(60)
            assert not thread.is_alive(), "a client never got an answer"
    finally:
        stop.set()
        for server in servers:
            server.stop()

    everything = [p for per_user in payments for p in per_user]
    final = {p.key: p.answers[-1] if p.answers else None for p in everything}
    # key -> (ledger id, status) as the answer named it: a 201's id, or a recorded refusal's transaction_id.
    answered: dict[str, tuple[int, str]] = {}
    for key, answer in final.items():
        if answer and answer[0] == 201:
            answered[key] = (answer[1]["id"], "SUCCESS")
        elif answer and answer[0] == 422 and "transaction_id" in answer[1].get("error", {}):
            answered[key] = (answer[1]["error"]["transaction_id"], "FAILED")
    records = dict(IdempotencyKey.objects.filter(user_id__in=ids).values_list("key", "transaction_id"))
    entries = list(Transaction.objects.filter(transaction_type="TRANSFER", sender_id__in=ids))
    by_id = {e.pk: e for e in entries}
    unanswered = [key for key, answer in final.items() if answer is None or answer[0] >= 500 or answer[0] == 409]
    retried = [p for p in everything if len(p.answers) + p.interrupted > 1]
    replayed = sum(1 for p in everything for a in p.answers if a[2])
    # Ledger rows beyond one per logical payment (counted without trusting the key records alone).
    duplicates = len(entries) - len(set(records) | set(answered))
    drift = sum(Wallet.objects.filter(user_id__in=ids).values_list("balance", flat=True), Decimal(0)) - (
        START_BALANCE * len(users)
    )
    print(
        f"\nhttp chaos: attempted={len(everything)} requests={sum(len(p.answers) + p.interrupted for p in everything)}"
        f" created={sum(1 for _, st in answered.values() if st == 'SUCCESS')}"
        f" refused={sum(1 for _, st in answered.values() if st == 'FAILED')}"
        f" retried={len(retried)} replayed={replayed} interrupted={sum(p.interrupted for p in everything)}"
        f" kills={kills} connections_dropped={dropped} drift={drift} duplicates={duplicates}"
        f" unanswered={len(unanswered)} ledger_rows={Transaction.objects.count() - before}"
    )
    assert kills >= 3 and any(p.interrupted for p in everything), "the chaos did not happen"
    assert not unanswered, f"requests that never got an answer: {unanswered[:5]}"
    for payment in everything:  # every definitive answer a key got (first run or replay) is the same outcome
        outcomes = {(status, json.dumps(body, sort_keys=True)) for status, body, _ in payment.answers}
        assert len({o for o in outcomes if o[0] < 500 and o[0] != 409}) == 1, (payment.key, payment.answers)
    for key, (transaction_id, status) in answered.items():
        assert records.get(key) == transaction_id, (
            f"the answer for {key} names {transaction_id}, the key records {records.get(key)}"
        )
        entry = by_id[transaction_id]
        payment = next(p for p in everything if p.key == key)
        assert (entry.sender_id, entry.receiver_id, entry.amount, entry.status) == (
            payment.sender,
            payment.body["to_user_id"],
            Decimal(payment.body["amount"]),
            status,
        )
    assert len({tid for tid, _ in answered.values()}) == len(answered), "two keys answered with one ledger row"
    assert set(records) <= {p.key for p in everything}
    assert sorted(records.values()) == sorted(by_id), "a ledger row without its key, or a key without its row"
    assert duplicates == 0
    assert drift == 0
    assert all(b >= 0 for b in Wallet.objects.values_list("balance", flat=True))
    assert Wallet.objects.filter(user_id__in=ids).aggregate(total=Sum("balance"))["total"] == START_BALANCE * len(users)
    call_command("verify_ledger", verbosity=0)
