"""The cluster under test (deploy/cluster/) and clients that pay through its HAProxy.

The tests use deploy/cluster/'s modules for its helpers: ports, pids, who is primary, how to
start a part again. ``Payers`` are many clients at once, each
a thread with a Bearer token, the payment PIN and one ``Idempotency-Key`` per transfer, retried
with the same key on a connection error or a 5xx until the answer is a business one (201, 4xx).
Every attempt is recorded with its start and end, so a test can say which failures were requests
in flight on a part it killed.
"""

from __future__ import annotations

import http.client
import json
import random
import ssl
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from deploy.cluster.cluster import Cluster
from tests.support.live import BASE_DIR
from tests.support.sms import last_code_in_folder

CLUSTER_PY = BASE_DIR / "deploy" / "cluster" / "cluster.py"
PASSWORD = "cluster test password 7"
PIN = "4826"
TOP_UP = Decimal("1000.00")
AMOUNT = "1.00"


@dataclass
class Running:
    """A cluster `deploy/cluster/up` started."""

    dir: Path

    @property
    def state(self) -> Cluster:
        """The cluster's state as saved now (pids change as parts are restarted)."""
        return Cluster.load(self.dir)

    @property
    def https_port(self) -> int:
        return int(self.state.port("https"))

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.dir / "haproxy" / "cert.pem"))

    def primary(self) -> psycopg.Connection[Any]:
        """A connection to the current PostgreSQL primary through HAProxy (not PgBouncer)."""
        return psycopg.connect(self.state.primary_url, autocommit=True, connect_timeout=5)

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        """manage.py against the current primary, as an operator would run it."""
        env = {"PATH": "/usr/bin:/bin", "SECRET_KEY": "x" * 50, "DATABASE_URL": self.state.primary_url}
        return subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
        )


# --- One client --------------------------------------------------------------------------------


class Api:
    """One keep-alive HTTPS connection to HAProxy; a new one after any failure."""

    def __init__(self, cluster: Running, token: str | None = None) -> None:
        self.port, self.context, self.token = cluster.https_port, cluster.tls(), token
        self.conn: http.client.HTTPSConnection | None = None

    def call(
        self, method: str, path: str, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        """(status, JSON body); status 0 when the connection failed before an answer."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        try:
            if self.conn is None:
                self.conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=30, context=self.context)
            data = json.dumps(body).encode() if body is not None else None
            self.conn.request(method, "/api/v1" + path, body=data, headers=all_headers)
            response = self.conn.getresponse()
            raw = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, None
        if response.getheader("Connection", "").lower() == "close":
            self.close()
        try:
            return response.status, json.loads(raw or b"null")
        except ValueError:
            return response.status, raw.decode(errors="replace")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


@dataclass
class User:
    user_id: int
    token: str
    mobile: str


def sign_up(cluster: Running, count: int) -> list[User]:
    """``count`` people who sign up, verify their number, set the PIN and add TOP_UP, all on the API."""
    users = []
    for _ in range(count):
        mobile = f"+9198{random.randrange(10**8):08d}"
        api = Api(cluster)
        name = f"c{uuid.uuid4().hex[:12]}"
        status, body = api.call(
            "POST", "/auth/register/", {"username": name, "password": PASSWORD, "mobile_number": mobile}
        )
        assert status == 201, (status, body)
        user_id = int(body["user_id"])
        status, token = api.call("POST", "/auth/token/", {"username": name, "password": PASSWORD})
        assert status == 200, (status, token)
        api.token = token["token"]
        code = last_code_in_folder(cluster.dir / "sms", mobile)
        assert api.call("POST", "/auth/mobile/verify/", {"code": code})[0] == 200
        assert api.call("PUT", "/auth/pin/", {"pin": PIN})[0] in (200, 204)
        status, body = api.call("POST", "/wallet/top-ups/", {"amount": str(TOP_UP)}, {"Idempotency-Key": name})
        assert status == 201, (status, body)
        api.close()
        users.append(User(user_id, api.token, mobile))
    return users


# --- Many clients ------------------------------------------------------------------------------


@dataclass
class Attempt:
    started: float
    ended: float
    status: int  # 0: no answer (connection refused or cut)


@dataclass
class Transfer:
    """One payment a client wanted: its key, every attempt, and the final business answer."""

    key: str
    sender: int
    receiver: int
    attempts: list[Attempt] = field(default_factory=list)
    status: int | None = None
    transaction_id: int | None = None

    @property
    def answered_at(self) -> float | None:
        return self.attempts[-1].ended if self.status is not None else None


class Payers:
    """``threads`` clients paying each other AMOUNT through HAProxy until ``stop()``."""

    GIVE_UP_AFTER = 120.0

    def __init__(self, cluster: Running, users: list[User], threads: int) -> None:
        self.cluster, self.users, self.threads = cluster, users, threads
        self.transfers: list[Transfer] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self.workers = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Payers:
        for worker in self.workers:
            worker.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for worker in self.workers:
            worker.join(self.GIVE_UP_AFTER + 30)

    def _run(self, index: int) -> None:
        rng = random.Random(index)
        sender = self.users[index % len(self.users)]
        api = Api(self.cluster, sender.token)
        while not self.stopping.is_set():
            receiver = rng.choice([u for u in self.users if u is not sender])
            transfer = Transfer(str(uuid.uuid4()), sender.user_id, receiver.user_id)
            with self.lock:
                self.transfers.append(transfer)
            self._pay(api, transfer)
        api.close()

    def _pay(self, api: Api, transfer: Transfer) -> None:
        """Until a business answer, always with the same Idempotency-Key (a client's duty)."""
        body = {"to_user_id": transfer.receiver, "amount": AMOUNT, "pin": PIN}
        deadline = time.monotonic() + self.GIVE_UP_AFTER
        while time.monotonic() < deadline:
            started = time.monotonic()
            status, answer = api.call("POST", "/transfers/", body, {"Idempotency-Key": transfer.key})
            transfer.attempts.append(Attempt(started, time.monotonic(), status))
            # 409: the same key still running (its first try on a host that died, or a retry).
            if status == 0 or status >= 500 or status in (409, 429):
                time.sleep(0.2)
                continue
            transfer.status = status
            if status == 201:
                transfer.transaction_id = int(answer["id"])
            return

    # What the tests ask of a run.

    def finished(self) -> list[Transfer]:
        return [t for t in self.transfers if t.attempts]

    def failures(self) -> list[Attempt]:
        """Attempts answered 5xx or not answered at all."""
        return [a for t in self.finished() for a in t.attempts if a.status == 0 or a.status >= 500]

    def in_flight(self, start: float, end: float) -> int:
        """Attempts in flight during the kill, from ``start`` (signalling began) to ``end`` (done)."""
        return sum(1 for t in self.finished() for a in t.attempts if a.started <= end and a.ended >= start)


def ledger_check(cluster: Running, users: list[User], payers: Payers) -> dict[str, Any]:
    """On the current primary: every 201 in the ledger exactly once, nothing else moved, money conserved."""
    ids = [u.user_id for u in users]
    answered = [t for t in payers.finished() if t.status == 201]
    with cluster.primary() as conn:
        rows = conn.execute(
            "SELECT id FROM ledger_transaction WHERE transaction_type = 'TRANSFER' AND status = 'SUCCESS' "
            "AND sender_id = ANY(%s)",
            [ids],
        ).fetchall()
        total = conn.execute("SELECT sum(balance) FROM wallets_wallet WHERE user_id = ANY(%s)", [ids]).fetchone()
    in_ledger = [int(r[0]) for r in rows]
    return {
        "answered_201": len(answered),
        "distinct_201_ids": len({t.transaction_id for t in answered}),
        "in_ledger": len(in_ledger),
        "missing": sorted({t.transaction_id for t in answered} - set(in_ledger)),  # type: ignore[arg-type]
        "extra": sorted(set(in_ledger) - {t.transaction_id for t in answered}),
        "balances": Decimal(total[0]) if total and total[0] is not None else None,
        "expected_balances": TOP_UP * len(users),
    }
