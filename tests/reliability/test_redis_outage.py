"""Redis down must not take the service down: a real redis-server stopped in the middle of the test.

Through a real daphne: with Redis stopped, sign-up, sign-in, top-ups, transfers
(API and pages), history and the admin keep working and commit; rate limits keep
refusing (per process) instead of failing open or with a 500; websocket
handshakes close with 1013. When Redis returns everything recovers by itself:
handshakes, pushes, and the limits' shared counters.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from ledger.models import Transaction
from realtime.events import CLOSE_TRY_AGAIN
from tests.conftest import PASSWORD, PIN
from tests.support.live import Browserless, Daphne, RedisServer, daphne, session_key
from tests.support.sms import last_code_in_folder
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 5.0
# Low enough to reach during the outage: the per-process fallback must keep refusing.
REGISTER_RATE = 4


class Http:
    """JSON over HTTP to the live server; every answer's status is kept to check that none was a 5xx."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.statuses: list[tuple[str, int]] = []

    def call(self, method: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as refused:
            status, raw = refused.code, refused.read()
        self.statuses.append((f"{method} {path}", status))
        return status, json.loads(raw) if raw else None

    def register(self, name: str, mobile: str) -> int:
        return self.call(
            "POST", "/api/v1/auth/register/", {"username": name, "password": PASSWORD, "mobile_number": mobile}
        )[0]

    def verify(self, token: str, mobile: str, sms: Path) -> None:
        """Prove the number with the code the server sent to it (the ``file`` SMS backend)."""
        status, body = self.call(
            "POST", "/api/v1/auth/mobile/verify/", {"code": last_code_in_folder(sms, mobile)}, token
        )
        assert status == 200, body

    def pin_set(self, token: str) -> None:
        """Set the payment PIN the transfers below send."""
        status, body = self.call("PUT", "/api/v1/auth/pin/", {"pin": PIN}, token)
        assert status == 200, body

    def token(self, name: str) -> str:
        status, body = self.call("POST", "/api/v1/auth/token/", {"username": name, "password": PASSWORD})
        assert status == 200, body
        return str(body["token"])


def page_sign_up(server: Daphne, name: str, mobile: str) -> int:
    """The sign-up form of the home page, as a browser posts it (CSRF cookie and token)."""
    guest = Browserless(server.http, "no-session")
    fields = {
        "action": "register",
        "register-username": name,
        "register-mobile_number": mobile,
        "register-password": PASSWORD,
        "register-password_confirm": PASSWORD,
    }
    with guest.submit("/", fields) as answer:
        return int(answer.status)


def page_sign_in(server: Daphne, name: str) -> tuple[int, str]:
    guest = Browserless(server.http, "no-session")
    with guest.submit("/", {"action": "login", "login-username": name, "login-password": PASSWORD}) as answer:
        return int(answer.status), str(answer.url)


async def handshake(server: Daphne, token: str) -> tuple[str, Any]:
    """("hello", frame) or ("closed", close code) or ("refused", HTTP status)."""
    try:
        ws = await connect(server.ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=WAIT)
    except InvalidStatus as refused:
        return "refused", refused.response.status_code
    try:
        frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
    except ConnectionClosed:
        return "closed", ws.close_code
    await ws.close()
    return "hello", frame


def redis_keys(port: int, pattern: str) -> list[str]:
    with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
        command = f"*2\r\n$4\r\nKEYS\r\n${len(pattern)}\r\n{pattern}\r\n".encode()
        sock.sendall(command)
        time.sleep(0.2)
        reply = sock.recv(65536).decode()
    return [line for line in reply.split("\r\n") if line and line[0] not in "*$"]


def test_with_redis_stopped_api_pages_admin_keep_working_limits_hold_and_all_recovers(
    tmp_path: Path, admin_user: User
) -> None:
    redis = RedisServer(tmp_path)
    redis.start()
    env = {"PAYLANE_REGISTER_RATE": f"{REGISTER_RATE}/h"}
    try:
        with daphne(redis_url=redis.url, log_dir=tmp_path, extra_env=env) as server:
            http = Http(server.http)
            # Redis up: two accounts, money, a socket.
            assert http.register("alice", "+919876543210") == 201
            assert http.register("bob", "+919812345678") == 201
            alice, bob = http.token("alice"), http.token("bob")
            http.verify(alice, "+919876543210", server.sms)
            http.verify(bob, "+919812345678", server.sms)
            http.pin_set(alice)
            assert http.call("POST", "/api/v1/wallet/top-ups/", {"amount": "100.00"}, alice)[0] == 201
            assert asyncio.run(handshake(server, bob))[0] == "hello"
            bob_id = User.objects.get(username="bob").pk

            redis.stop()

            # The API: sign-up, sign-in, money, history.
            assert http.register("carol", "+919800000001") == 201
            carol = http.token("carol")
            http.verify(carol, "+919800000001", server.sms)
            http.pin_set(carol)
            assert http.call("POST", "/api/v1/wallet/top-ups/", {"amount": "50.00"}, carol)[0] == 201
            by_id = {"to_user_id": bob_id, "amount": "7.00", "pin": PIN}
            assert http.call("POST", "/api/v1/transfers/", by_id, alice)[0] == 201
            by_mobile = {"to_mobile": "+919812345678", "amount": "3.00", "pin": PIN}
            assert http.call("POST", "/api/v1/transfers/", by_mobile, carol)[0] == 201
            status, history = http.call("GET", "/api/v1/transactions/", token=bob)
            assert status == 200 and [t["amount"] for t in history["results"]] == ["3.00", "7.00"]
            assert http.call("GET", "/api/v1/wallet/", token=bob)[1]["balance"] == "10.00"

            # The pages: sign-up, sign-in, add money, pay, history; and the admin.
            assert page_sign_up(server, "dave", "+919800000002") == 200  # followed to the dashboard
            assert page_sign_in(server, "bob") == (200, server.http + "/dashboard/")
            browser = Browserless(server.http, session_key(User.objects.get(username="alice")))
            with browser.submit("/add-money/", {"amount": "20.00"}) as added:
                assert (added.status, added.url) == (200, server.http + "/dashboard/")
            with browser.submit("/transfer/", {"to_user_id": str(bob_id), "amount": "5.00"}) as paid:
                assert (paid.status, paid.url) == (200, server.http + "/dashboard/")
            with browser.opener.open(server.http + "/transactions/", timeout=10) as page:
                assert page.status == 200 and "INR 5.00" in page.read().decode()
            staff = Browserless(server.http, session_key(admin_user))
            with staff.opener.open(server.http + "/admin/ledger/transaction/", timeout=10) as admin_page:
                assert admin_page.status == 200

            # The limits: counted per process now, and still refusing past the rate.
            outage_sign_ups = [http.register(f"extra{n}", f"+9198000001{n:02d}") for n in range(REGISTER_RATE + 1)]
            assert outage_sign_ups.count(429) >= 1
            assert outage_sign_ups.count(201) <= REGISTER_RATE - 2  # carol and dave counted already

            # The websocket: "try again later", as documented.
            assert asyncio.run(handshake(server, bob)) == ("closed", CLOSE_TRY_AGAIN)

            redis.start()

            # Recovery, by itself: a handshake and a live push within seconds.
            started = time.monotonic()
            while (outcome := asyncio.run(handshake(server, bob)))[0] != "hello":
                assert time.monotonic() - started < 10, f"no recovery in 10 s: {outcome}\n{server.output()}"
                time.sleep(0.2)

            async def live_push() -> dict[str, Any]:
                ws = await connect(server.ws, additional_headers={"Authorization": f"Bearer {bob}"}, open_timeout=WAIT)
                hello = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                await asyncio.to_thread(
                    http.call, "POST", "/api/v1/transfers/", {"to_user_id": bob_id, "amount": "1.00", "pin": PIN}, alice
                )
                frame = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                await ws.close()
                return {"hello": hello, "frame": frame}

            pushed = asyncio.run(live_push())
            assert pushed["frame"]["seq"] > pushed["hello"]["last_seq"]
            assert pushed["frame"]["balance"] == "16.00"

            # The limits count in Redis again (the per-process fallback retries it after a few seconds).
            time.sleep(2.5)
            http.register("after", "+919800000199")
            assert redis_keys(redis.port, "*throttle:register*"), "rate limits did not go back to Redis"

            # No error of the application itself (channels-redis logs its own reconnection troubles).
            log = server.log.read_text(errors="replace")
            assert "Internal Server Error" not in log and "Exception inside application" not in log, log[-4000:]
    finally:
        redis.stop()

    assert [call for call in http.statuses if call[1] >= 500] == []
    assert Transaction.objects.filter(status="SUCCESS", transaction_type="TRANSFER").count() == 4
    call_command("verify_ledger")
