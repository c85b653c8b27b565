"""`make serve` end to end: the production stack of one host, through its proxy, over TLS.

deploy/serve.py is started as `make serve` starts it (tests/support/stack.py): DEBUG=0, nginx in
front with a self-signed certificate that the clients here trust, two HTTP workers, the websocket
server, the test database and a private redis-server. What it covers: a person signs up, verifies
the number, adds money and pays on the pages (CSRF, `__Host-` secure cookies, HSTS: Django sees the
requests as HTTPS through X-Forwarded-Proto); a program signs up, verifies and holds a websocket
through the API; the payment's push crosses from an HTTP worker to the websocket server through
Redis and out through nginx's upgrade. Then the proxy's own duties (static files, the body limit,
the plain-HTTP redirect, X-Forwarded-For with PAYLANE_PROXY_COUNT=1), /readyz and /metrics, and a
SIGTERM that leaves no process behind. Not covered here: a certificate from a real authority, and
HTTP/2 (nginx serves HTTP/1.1 here).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from tests.support.live import RedisServer
from tests.support.sms import last_code_in_folder
from tests.support.stack import SERVE, Client, Stack, alive, serve
from wallets.models import AdminSignIn

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True), pytest.mark.timeout(300)]

from tests.conftest import PASSWORD, PIN  # noqa: E402

WAIT = 10.0


@pytest.fixture(scope="module")
def stack(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    logs = tmp_path_factory.mktemp("serve")
    redis = RedisServer(logs)
    redis.start()
    try:
        with serve(redis_url=redis.url, log_dir=logs) as running:
            yield running
    finally:
        redis.stop()


async def subscribe(stack: Stack, **kwargs: Any) -> tuple[ClientConnection, dict[str, Any]]:
    ws = await connect(stack.ws, ssl=stack.tls(), open_timeout=WAIT, **kwargs)
    hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    assert hello["type"] == "hello", hello
    return ws, hello


async def next_frame(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), WAIT)))


def sign_up_on_the_pages(stack: Stack, username: str, mobile: str) -> Client:
    browser = Client(stack)
    fields = {
        "action": "register",
        "register-username": username,
        "register-mobile_number": mobile,
        "register-password": PASSWORD,
        "register-password_confirm": PASSWORD,
    }
    signed_up = browser.submit("/", fields)
    assert signed_up.url.endswith("/verify-mobile/"), (signed_up.status, signed_up.text[:2000])
    code = last_code_in_folder(stack.sms, mobile)
    verified = browser.submit("/verify-mobile/", {"action": "verify", "code": code})
    assert verified.url.endswith("/dashboard/"), (verified.status, verified.text[:2000])
    pin_set = browser.submit("/pin/", {"pin": PIN, "pin_confirm": PIN})
    assert pin_set.url.endswith("/dashboard/"), (pin_set.status, pin_set.text[:2000])
    return browser


def sign_up_with_the_api(stack: Stack, username: str, mobile: str) -> tuple[int, str]:
    program = Client(stack)
    account = {"username": username, "password": PASSWORD, "mobile_number": mobile}
    created = program.api("POST", "/api/v1/auth/register/", account)
    assert created.status == 201, created.text
    token = program.api("POST", "/api/v1/auth/token/", {"username": username, "password": PASSWORD}).json()["token"]
    program.token = token
    verified = program.api("POST", "/api/v1/auth/mobile/verify/", {"code": last_code_in_folder(stack.sms, mobile)})
    assert verified.json() == {"mobile_verified": True}, verified.text
    return int(created.json()["user_id"]), token


def test_sign_up_top_up_and_a_transfer_reach_the_websockets_through_the_proxy(stack: Stack) -> None:
    alice = sign_up_on_the_pages(stack, "alice", "+919812300001")
    bob_id, bob_token = sign_up_with_the_api(stack, "bob", "+919812300002")
    added = alice.submit("/add-money/", {"amount": "500.00"})
    assert added.url.endswith("/dashboard/") and "500.00" in added.text, added.text[:2000]
    session = alice.cookie("__Host-sessionid")
    assert session is not None and session.secure, [c.name for c in alice.jar]

    async def scenario() -> tuple[Any, dict[str, Any], dict[str, Any]]:
        # Bob's program with its token; Alice's browser with her session cookie and the page's Origin.
        bob_ws, _ = await subscribe(stack, additional_headers={"Authorization": f"Bearer {bob_token}"})
        alice_ws, hello = await subscribe(
            stack, origin=Origin(stack.base), additional_headers={"Cookie": f"__Host-sessionid={session.value}"}
        )
        assert hello["balance"] == "500.00"
        paid = await asyncio.to_thread(
            alice.submit, "/transfer/", {"to_user_id": str(bob_id), "amount": "125.00", "pin": PIN}
        )
        to_bob, to_alice = await next_frame(bob_ws), await next_frame(alice_ws)
        await bob_ws.close()
        await alice_ws.close()
        return paid, to_bob, to_alice

    paid, to_bob, to_alice = asyncio.run(scenario())
    assert paid.url.endswith("/dashboard/"), paid.text[:2000]
    assert (to_bob["type"], to_bob["balance"]) == ("transaction", "125.00")
    assert (to_alice["type"], to_alice["balance"]) == ("transaction", "375.00")
    assert to_bob["transaction"] == to_alice["transaction"]
    assert to_bob["transaction"]["amount"] == "125.00"
    wallet = Client(stack, token=bob_token).get("/api/v1/wallet/").json()
    assert wallet["balance"] == "125.00"
    # Django saw HTTPS (X-Forwarded-Proto from nginx): it sent HSTS; a forged header changes nothing.
    page = alice.get("/dashboard/", headers={"X-Forwarded-Proto": "http"})
    assert page.status == 200 and page.url.endswith("/dashboard/")
    assert "max-age=" in page.headers["Strict-Transport-Security"]


def test_the_proxy_serves_static_files_limits_bodies_and_redirects_plain_http(stack: Stack) -> None:
    client = Client(stack)
    css = client.get("/static/css/paylane.css")
    assert css.status == 200
    assert css.body == (Path(__file__).resolve().parents[2] / "static" / "css" / "paylane.css").read_bytes()
    # nginx's `expires 1h`, and none of the headers Django adds to what it serves.
    assert css.headers["Cache-Control"] == "max-age=3600"
    assert "Content-Security-Policy" not in css.headers
    too_big = client.request(
        "POST", "/api/v1/transfers/", body=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"}
    )
    assert too_big.status == 413
    assert "nginx" in too_big.text  # nginx's refusal: the body never reached a worker
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as sock:
        sock.sendall(f"GET /dashboard/?page=2 HTTP/1.1\r\nHost: 127.0.0.1:{stack.http_port}\r\n\r\n".encode())
        head = sock.recv(4096).decode()
    assert head.startswith("HTTP/1.1 301")
    assert f"Location: https://127.0.0.1:{stack.port}/dashboard/?page=2\r\n" in head


def test_the_application_sees_the_clients_address_not_the_proxys_nor_a_forged_one(stack: Stack) -> None:
    # A client at 127.0.0.2 (nginx itself talks to the workers from 127.0.0.1) claims to be
    # 203.0.113.7: the application takes the address nginx appended, PAYLANE_PROXY_COUNT=1.
    client = Client(stack, source="127.0.0.2")
    refused = client.submit(
        "/admin/login/",
        {"username": "nobody", "password": "wrong password", "otp_token": "123456"},
        headers={"X-Forwarded-For": "203.0.113.7"},
    )
    assert refused.status == 200  # the form again, with its error
    assert list(AdminSignIn.objects.values_list("username", "client_ip")) == [("nobody", "127.0.0.2")]


def test_the_proxy_spreads_requests_over_every_http_worker(stack: Stack) -> None:
    client = Client(stack)
    for _ in range(3 * stack.web_processes):
        assert client.get("/").status == 200
    used = set(re.findall(r"proxy\.1 .*upstream=127\.0\.0\.1:(\d+)", stack.output()))
    assert {str(p) for p in stack.web_ports} <= used


def test_a_request_never_queues_behind_a_busy_http_worker_while_another_is_free(stack: Stack) -> None:
    # A sync worker answers one request at a time, and a request handed to a busy one waits in its
    # listen queue. nginx's least_conn hands it to a free worker instead: with round robin, every
    # other request below would wait for the locked one (up to PAYLANE_DB_LOCK_TIMEOUT, 5 s).
    _, token = sign_up_with_the_api(stack, "carol", "+919812300003")
    with ThreadPoolExecutor(1) as pool, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("LOCK TABLE wallets_wallet IN ACCESS EXCLUSIVE MODE")
        held = pool.submit(Client(stack, token=token).get, "/api/v1/wallet/")
        waiting_for_the_lock(cursor)
        client = Client(stack)
        for _ in range(2 * stack.web_processes):
            started = time.monotonic()
            assert client.get("/").status == 200
            assert time.monotonic() - started < 2.0
    assert held.result(timeout=WAIT).status == 200  # answered once the lock was gone


def waiting_for_the_lock(cursor: Any) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        if cursor.fetchone()[0]:
            return
        time.sleep(0.02)
    pytest.fail("the wallet request never reached the locked table")


def test_readyz_and_metrics_answer_through_the_proxy(stack: Stack) -> None:
    client = Client(stack)
    ready = client.get("/readyz")
    assert ready.status == 200, ready.text
    scrape = Client(stack, token=stack.metrics_token).get("/metrics")
    assert scrape.status == 200, scrape.text[:2000]
    assert scrape.headers["Content-Type"].startswith("text/plain")
    assert "# TYPE " in scrape.text
    # Without the token nginx refuses it: behind the proxy every request comes from loopback.
    assert client.get("/metrics").status == 403


def ready_check(stack: Stack) -> int:
    """``deploy/serve.py --ready`` (the container's HEALTHCHECK) for this stack: its exit status."""
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(stack.port)}
    return subprocess.run([sys.executable, str(SERVE), "--ready"], env=env, timeout=30, check=False).returncode


def test_sigterm_stops_every_process_of_the_stack(stack: Stack) -> None:
    assert ready_check(stack) == 0
    started = stack.started()
    assert sorted(started) == sorted(
        [*(f"web.{i + 1}" for i in range(stack.web_processes)), "ws.1", "proxy.1", "worker.1", "scheduler.1"]
    )
    assert stack.stop() == 0
    assert [name for name, pid in started.items() if alive(pid)] == []
    for port in (stack.port, stack.http_port, *stack.web_ports, stack.ws_port):
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    assert ready_check(stack) == 1
