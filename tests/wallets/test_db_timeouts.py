"""No request waits for ever on the database: web processes have a lock and a statement timeout.

A money movement that hits one answers 503 ``busy`` (a form error on the pages) with
nothing changed, and a retry with the same Idempotency-Key goes through once the lock is free.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction

from ledger.models import Transaction
from tests.conftest import PIN, balance_of
from tests.support import live
from tests.support.live import BASE_DIR, Browserless, Daphne, RedisServer, daphne, session_key
from wallets.accounts.tokens import token_issue
from wallets.models import IdempotencyKey, PaymentPin, User, Wallet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Daphne]:
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        env = {"PAYLANE_DB_LOCK_TIMEOUT": "300ms", "PAYLANE_DB_STATEMENT_TIMEOUT": "5s"}
        with daphne(redis_url=redis.url, log_dir=tmp_path, extra_env=env) as running:
            yield running
    finally:
        redis.stop()


class HeldLock:
    """Another connection holds ``user``'s row of ``model`` (their wallet unless told) locked (SELECT ... FOR
    UPDATE) until released."""

    def __init__(self, user: User, model: type[Wallet | PaymentPin] = Wallet) -> None:
        self.user, self.model, self.taken, self.release = user, model, threading.Event(), threading.Event()
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                self.model.objects.select_for_update().get(user=self.user)
                self.taken.set()
                self.release.wait(30)
        finally:
            connection.close()

    def __enter__(self) -> HeldLock:
        self.thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()


def post(url: str, body: dict[str, object], headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


class Payment:
    """Alice pays Bob 10.00 through the API with an Idempotency-Key, and the checks that it changed nothing."""

    def __init__(self, server: Daphne, alice: User, bob: User, key: str) -> None:
        self.server, self.alice, self.bob = server, alice, bob
        self.headers = {"Authorization": f"Bearer {token_issue(user=alice)}", "Idempotency-Key": key}
        self.body = {"to_user_id": bob.pk, "amount": "10.00", "pin": PIN}
        self.ledger_rows = Transaction.objects.count()

    def send(self) -> tuple[int, dict[str, object]]:
        return post(self.server.http + "/api/v1/transfers/", self.body, self.headers)

    def assert_busy_and_nothing_changed(self, status: int, answer: dict[str, object]) -> None:
        assert (status, answer["error"]["code"]) == (503, "busy")  # type: ignore[index]
        assert Transaction.objects.count() == self.ledger_rows
        assert not IdempotencyKey.objects.exists()
        assert (balance_of(self.alice), balance_of(self.bob)) == (Decimal("1000.00"), Decimal("0.00"))

    def assert_retry_goes_through(self) -> None:
        assert self.send()[0] == 201  # the lock is free: the retry with the same key goes through
        assert balance_of(self.bob) == Decimal("10.00")
        self.server.assert_no_traceback()


def test_a_transfer_stuck_behind_a_held_lock_answers_503_busy_and_changes_nothing(
    server: Daphne, alice: User, bob: User
) -> None:
    payment = Payment(server, alice, bob, key="stuck-1")

    with HeldLock(alice):
        status, answer = payment.send()
        page = Browserless(server.http, session_key(alice))
        with page.submit("/add-money/", {"amount": "5"}) as form_answer:
            pass

    payment.assert_busy_and_nothing_changed(status, answer)
    assert form_answer.status == 503
    payment.assert_retry_goes_through()


def test_a_payment_whose_pin_row_is_held_answers_503_busy_counts_no_try_and_goes_through_after(
    server: Daphne, alice: User, bob: User
) -> None:
    # Every payment first tries the PIN under its row's lock (wallets.accounts.pins): a lock held
    # elsewhere (another try, an administrator) is waited on for PAYLANE_DB_LOCK_TIMEOUT, no longer.
    payment = Payment(server, alice, bob, key="pin-held-1")

    with HeldLock(alice, PaymentPin):
        status, answer = payment.send()

    payment.assert_busy_and_nothing_changed(status, answer)
    assert PaymentPin.objects.get(user=alice).failures_in_a_row == 0
    payment.assert_retry_goes_through()


def test_the_timeouts_are_set_on_web_connections_and_not_on_management_commands() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW lock_timeout")
        lock = cursor.fetchone()[0]
        cursor.execute("SHOW statement_timeout")
        statement = cursor.fetchone()[0]
    assert (lock, statement) == ("5s", "30s")  # the defaults, in this (web) process

    show = (
        "from django.db import connection; c = connection.cursor(); "
        "c.execute('SHOW lock_timeout'); print(c.fetchone()[0])"
    )
    command = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", show],
        cwd=BASE_DIR,
        env={**_env(), "DATABASE_URL": live.tests_database_url()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert command.returncode == 0, command.stderr
    assert command.stdout.strip().splitlines()[-1] == "0"


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PAYLANE_PROCESS"}
