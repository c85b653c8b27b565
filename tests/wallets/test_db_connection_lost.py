"""A request whose database connection dies answers 503 ``database_unavailable``, never a 500.

The real part broken: the request's own PostgreSQL backend, terminated with
``pg_terminate_backend`` from another connection while the request waits on a
row lock that connection holds, so the kill lands mid-transaction (as a killed
primary or a PgBouncer "server conn crashed?" would). The API answers 503 with
``Retry-After``, nothing moved, and the retry with the same Idempotency-Key
goes through once; the form page answers 503 with a message and keeps its
one-time token; a websocket whose hello loses the database closes with 1013;
and a loss that surfaces in a middleware, outside any view, is a 503 too.
A server that refuses writes (the database set read-only, as a primary
demoted in a failover is) answers the same 503, on the API and the pages.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.db import connection, transaction
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ledger.models import Transaction
from realtime.events import CLOSE_TRY_AGAIN
from tests.conftest import PIN, balance_of
from tests.support import live
from tests.support.live import Browserless, Daphne, RedisServer, daphne, session_key
from wallets.accounts.tokens import token_issue
from wallets.models import IdempotencyKey, User, Wallet

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@contextmanager
def daphne_with_redis(tmp_path: Path, env: dict[str, str]) -> Iterator[Daphne]:
    """A live daphne with ``env``, on a redis-server of its own."""
    redis = RedisServer(tmp_path)
    redis.start()
    try:
        with daphne(redis_url=redis.url, log_dir=tmp_path, extra_env=env) as running:
            yield running
    finally:
        redis.stop()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Daphne]:
    # A lock timeout long enough that the kill, not the timeout, ends the wait.
    with daphne_with_redis(
        tmp_path, {"PAYLANE_DB_LOCK_TIMEOUT": "20s", "PAYLANE_DB_STATEMENT_TIMEOUT": "30s"}
    ) as running:
        yield running


class KillWaiters:
    """Another connection holds a lock (``user``'s wallet row, or the whole wallet table) and
    terminates, with ``pg_terminate_backend``, every backend that comes to wait on it."""

    def __init__(self, user: User, *, table: bool = False) -> None:
        self.user, self.table = user, table
        self.taken, self.release = threading.Event(), threading.Event()
        self.killed: list[int] = []
        self.thread = threading.Thread(target=self._hold)

    def _hold(self) -> None:
        try:
            with transaction.atomic():
                if self.table:
                    with connection.cursor() as cursor:
                        cursor.execute(f"LOCK TABLE {Wallet._meta.db_table} IN ACCESS EXCLUSIVE MODE")
                else:
                    Wallet.objects.select_for_update().get(user=self.user)
                self.taken.set()
                while not self.release.wait(0.02):
                    self._kill_waiters()
        finally:
            connection.close()

    def _kill_waiters(self) -> None:
        with connection.cursor() as cursor:
            # pg_stat_activity is read once per transaction unless its snapshot is dropped.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute(
                "SELECT pid, pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
            )
            self.killed.extend(pid for pid, _ in cursor.fetchall())

    def __enter__(self) -> KillWaiters:
        self.thread.start()
        assert self.taken.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.thread.join()


def post(url: str, body: dict[str, object], headers: dict[str, str]) -> tuple[int, dict[str, str], dict[str, object]]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json", **headers}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return refused.code, dict(refused.headers), json.loads(refused.read())


def transfer_form(server: Daphne, payer: User, payee: User, amount: str) -> tuple[Browserless, dict[str, str]]:
    """``payer``'s browser on the transfer page, and the form's fields filled in (its hidden ones too)."""
    page = Browserless(server.http, session_key(payer))
    form = page.opener.open(server.http + "/transfer/", timeout=10).read().decode()
    hidden = dict(re.findall(r'<input type="hidden" name="(csrfmiddlewaretoken|form_token)" value="([^"]+)"', form))
    return page, {**hidden, "to_user_id": str(payee.pk), "amount": amount, "pin": PIN}


def form_send(server: Daphne, page: Browserless, fields: dict[str, str]) -> tuple[int, str]:
    """The transfer form sent: the status and the page answered."""
    try:
        answer = page.opener.open(server.http + "/transfer/", urllib.parse.urlencode(fields).encode(), timeout=20)
    except urllib.error.HTTPError as error:
        answer = error
    with answer:
        return answer.status, answer.read().decode()


def test_a_transfer_whose_backend_is_killed_answers_503_and_its_retry_goes_through_once(
    server: Daphne, alice: User, bob: User
) -> None:
    headers = {"Authorization": f"Bearer {token_issue(user=alice)}", "Idempotency-Key": "killed-1"}
    body = {"to_user_id": bob.pk, "amount": "10.00", "pin": PIN}
    url = server.http + "/api/v1/transfers/"
    before = Transaction.objects.count()

    with KillWaiters(alice) as killer:
        status, answer_headers, answer = post(url, body, headers)
    assert killer.killed, "the request never waited on the lock"

    error = answer["error"]
    assert (status, error["code"]) == (503, "database_unavailable")  # type: ignore[index]
    assert answer_headers["Retry-After"] == "1"
    assert "Idempotency-Key" in error["message"]  # type: ignore[index]
    assert "nothing" not in error["message"].lower()  # type: ignore[index]  # the outcome is unknown
    assert Transaction.objects.count() == before
    assert not IdempotencyKey.objects.exists()
    assert (balance_of(alice), balance_of(bob)) == (Decimal("1000.00"), Decimal("0.00"))

    first = post(url, body, headers)
    again = post(url, body, headers)
    assert (first[0], again[0]) == (201, 201)
    assert again[1].get("Idempotent-Replayed") == "true"
    assert first[2] == again[2]
    assert Transaction.objects.count() == before + 1
    assert (balance_of(alice), balance_of(bob)) == (Decimal("990.00"), Decimal("10.00"))
    server.assert_no_traceback()


def test_a_form_whose_backend_is_killed_answers_503_with_a_message_and_is_done_once_when_sent_again(
    server: Daphne, alice: User, bob: User
) -> None:
    page, fields = transfer_form(server, alice, bob, "7.00")
    before = Transaction.objects.count()

    with KillWaiters(alice) as killer:
        status, text = form_send(server, page, fields)
    assert killer.killed

    assert status == 503
    assert "lost the connection to our database" in text
    assert "Server Error" not in text
    assert f'value="{fields["form_token"]}"' in text  # the same token: sending it again cannot pay twice
    assert Transaction.objects.count() == before

    for _ in range(2):
        with page.opener.open(server.http + "/transfer/", urllib.parse.urlencode(fields).encode(), timeout=20) as done:
            assert done.url.endswith("/dashboard/")
    assert Transaction.objects.count() == before + 1
    assert (balance_of(alice), balance_of(bob)) == (Decimal("993.00"), Decimal("7.00"))


# The server of the read-only test names its connections, so that only they are ended.
READ_ONLY_SERVER = "paylane-read-only-test"


@pytest.fixture
def named_server(tmp_path: Path) -> Iterator[Daphne]:
    with daphne_with_redis(
        tmp_path, {"DATABASE_URL": f"{live.tests_database_url()}?application_name={READ_ONLY_SERVER}"}
    ) as running:
        yield running


@contextmanager
def writes_refused() -> Iterator[None]:
    """Every new session of the test database refuses writes (25006), and the server's sessions are
    ended (only its: they carry ``READ_ONLY_SERVER``): a failover's demoted primary (Patroni
    restarts it as a standby) reached by a route that has not moved yet. The server's pool
    reconnects onto read-only sessions. Undone the same way."""
    name = connection.settings_dict["NAME"]
    servers = (
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = %s AND pid <> pg_backend_pid()"
    )
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        cursor.execute(servers, [READ_ONLY_SERVER])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f'ALTER DATABASE "{name}" RESET default_transaction_read_only')
            cursor.execute(servers, [READ_ONLY_SERVER])


def test_a_server_that_refuses_writes_answers_503_on_the_api_and_the_pages_and_moves_nothing(
    named_server: Daphne, alice: User, bob: User
) -> None:
    server = named_server
    headers = {"Authorization": f"Bearer {token_issue(user=alice)}", "Idempotency-Key": "read-only-1"}
    body = {"to_user_id": bob.pk, "amount": "10.00", "pin": PIN}
    url = server.http + "/api/v1/transfers/"
    page, fields = transfer_form(server, alice, bob, "7.00")
    before = Transaction.objects.count()

    with writes_refused():
        status, answer_headers, answer = post(url, body, headers)
        page_status, text = form_send(server, page, fields)

    assert (status, answer["error"]["code"]) == (503, "database_unavailable"), answer  # type: ignore[index]
    assert answer_headers["Retry-After"] == "1"
    assert page_status == 503, text[:2000]
    assert "Server Error" not in text
    assert Transaction.objects.count() == before
    assert (balance_of(alice), balance_of(bob)) == (Decimal("1000.00"), Decimal("0.00"))
    # Writable again: the same key goes through, once.
    assert post(url, body, headers)[0] == 201
    assert (balance_of(alice), balance_of(bob)) == (Decimal("990.00"), Decimal("10.00"))
    server.assert_no_traceback()


def test_a_websocket_whose_hello_loses_the_database_closes_with_1013(server: Daphne, alice: User) -> None:
    token = token_issue(user=alice)

    async def hello_under_kill() -> int | None:
        ws = await connect(server.ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=20)
        try:
            await asyncio.wait_for(ws.recv(), 20)
        except ConnectionClosed:
            pass
        return ws.close_code

    with KillWaiters(alice, table=True) as killer:
        code = asyncio.run(hello_under_kill())
    assert killer.killed
    assert code == CLOSE_TRY_AGAIN
    server.assert_no_traceback()


@pytest.fixture
def middleware_reads_a_dead_connection(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """After the view, outside DatabaseUnavailableMiddleware's reach, a middleware reads the
    database (as a session save or an audit line would) on a connection whose backend was
    just terminated: the loss surfaces outside any view, where only handler500 sees it."""
    from django.middleware.clickjacking import XFrameOptionsMiddleware

    original = XFrameOptionsMiddleware.process_response

    def terminated_then_read(self: XFrameOptionsMiddleware, request: object, response: object) -> object:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            (pid,) = cursor.fetchone()
        with psycopg.connect(**connection.get_connection_params(), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return original(self, request, response)  # type: ignore[arg-type]

    monkeypatch.setattr(XFrameOptionsMiddleware, "process_response", terminated_then_read)
    yield
    connection.close()  # the test's own connection died with the request's: the teardown gets a new one


@pytest.mark.usefixtures("middleware_reads_a_dead_connection")
def test_a_connection_lost_in_a_middleware_answers_503_not_500_on_a_page(alice: User) -> None:
    from django.test import Client

    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get("/dashboard/")

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert "lost the connection to our database" in response.content.decode()


@pytest.mark.usefixtures("middleware_reads_a_dead_connection")
def test_a_connection_lost_in_a_middleware_answers_503_not_500_on_the_api(alice: User) -> None:
    from django.test import Client

    client = Client(raise_request_exception=False)
    response = client.get("/api/v1/wallet/", headers={"Authorization": f"Bearer {token_issue(user=alice)}"})

    assert response.status_code == 503
    assert response["Retry-After"] == "1"
    assert response.json()["error"]["code"] == "database_unavailable"
