"""A password reset and the alerts through a live daphne and a live task worker, PostgreSQL, files for SMS.

In the test process after-the-answer work runs at once (tests/conftest.py); here
it runs as in production: the reset code on daphne's task threads after the
answer, the alerts from the outbox by a ``manage.py db_worker`` process
(PostgreSQL + Redis pass).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.conf import global_settings, settings

from tests.conftest import PIN
from tests.support.live import daphne, task_worker
from tests.support.sms import CODE_MESSAGE, code_in_folder
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

ALICE, BOB = "+919876543210", "+919812345678"
NEW = "an entirely new passphrase"


def call(url: str, body: dict[str, Any], token: str | None = None) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status), json.loads(response.read())
    except urllib.error.HTTPError as refused:
        return int(refused.code), json.loads(refused.read())


def messages(folder: Path, to: str) -> list[str]:
    found = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return [message["body"] for message in found if message["to"] == to]


def eventually(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.05)
    return result


def test_a_reset_code_and_the_alerts_reach_the_phone_from_the_servers_task_threads(
    register: Callable[..., User], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "PASSWORD_HASHERS", global_settings.PASSWORD_HASHERS)  # daphne's hashers
    register("alice", mobile=ALICE, balance="100.00")
    register("bob", mobile=BOB)
    redis_url = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    with daphne(redis_url=redis_url, log_dir=tmp_path) as server, task_worker(log_dir=tmp_path):
        api, sms = server.http + "/api/v1", server.sms
        assert call(api + "/auth/password/reset/", {"mobile_number": ALICE})[0] == 202
        assert call(api + "/auth/password/reset/", {"mobile_number": "+919800000009"})[0] == 202
        # Not "the folder exists": the backend makes it before the message is renamed into it (CI
        # once read the folder in between and failed).
        code = eventually(lambda: code_in_folder(sms, ALICE), "the reset code")
        status, body = call(
            api + "/auth/password/reset/confirm/", {"mobile_number": ALICE, "code": code, "new_password": NEW}
        )
        assert status == 200, body
        eventually(lambda: any("password was reset" in m for m in messages(sms, ALICE)), "the reset alert")

        status, paid = call(api + "/transfers/", {"to_mobile": BOB, "amount": "12.50", "pin": PIN}, token=body["token"])
        assert status == 201, paid
        eventually(
            lambda: any(m.startswith("Received INR 12.50 from al***") for m in messages(sms, BOB)), "bob's alert"
        )
        eventually(lambda: any(m.startswith("Paid INR 12.50 to bo*") for m in messages(sms, ALICE)), "alice's alert")
        assert messages(sms, "+919800000009") == []  # a number without an account got nothing
        assert len([m for m in messages(sms, ALICE) if m.startswith(CODE_MESSAGE)]) == 1  # one code, no more
