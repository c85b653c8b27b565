"""A revoked credential closes its sockets (4401), and nothing reaches them after (docs/websocket.md).

Through WebsocketCommunicator on the real ASGI stack: the in-memory layer on
SQLite, channels-redis on PostgreSQL. Revocations go through the real HTTP
views (the API, the sign-out page, the admin, password change and reset) with Django's test client.
The same across two daphne processes: ``test_revocation_end_to_end.py``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from knox.models import AuthToken

from realtime import auth, notify
from tests.conftest import PASSWORD
from tests.realtime.communicator import ALLOWED_ORIGIN, QUIET, WAIT, communicator, connected, pushes_flushed, run
from tests.realtime.communicator import transfer as transfer_async
from tests.support.sms import last_code
from tests.wallets.api.conftest import Api
from wallets import services
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN = "/api/v1/auth/token/"
PASSWORD_CHANGE = "/api/v1/auth/password/"
PASSWORD_RESET = "/api/v1/auth/password/reset/"
PASSWORD_RESET_CONFIRM = "/api/v1/auth/password/reset/confirm/"
CLOSED_4401 = {"type": "websocket.close", "code": 4401}
NEW_PASSWORD = "an entirely new passphrase"


def bearer(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


def cookie(client: Client) -> list[tuple[bytes, bytes]]:
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", ALLOWED_ORIGIN)]


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


in_thread = database_sync_to_async


async def nothing_more(*sockets: WebsocketCommunicator) -> bool:
    """No frame (and no second close) reaches any of ``sockets`` once every push so far has been sent."""
    await pushes_flushed()
    return all([await s.receive_nothing(timeout=QUIET) for s in sockets])


# --- The fast path: a message to the user's group -------------------------------------------


def test_deleting_a_token_closes_its_sockets_4401_and_a_later_transfer_never_reaches_them(
    alice: User, bob: User
) -> None:
    revoked, kept = token_issue(user=bob), token_issue(user=bob)

    async def scenario() -> dict[str, Any]:
        one, _ = await connected(bearer(revoked))
        two, _ = await connected(bearer(revoked))
        other, _ = await connected(bearer(kept))
        status = (await in_thread(Api(revoked).delete)(TOKEN)).status_code
        # Made after the DELETE answered: it must not overtake the revocation.
        entry = await transfer_async(sender=alice, to_user_id=bob.pk, amount="5.00")
        closes = [await one.receive_output(timeout=WAIT), await two.receive_output(timeout=WAIT)]
        live = await other.receive_json_from(timeout=WAIT)
        quiet = await nothing_more(one, two)
        for socket in (one, two, other):
            await socket.disconnect()
        return {"status": status, "closes": closes, "live": live, "entry": entry.pk, "quiet": quiet}

    result = run(scenario)
    assert result["status"] == 204
    assert result["closes"] == [CLOSED_4401, CLOSED_4401]
    assert result["quiet"]
    assert result["live"]["seq"] == result["entry"]  # the other token's socket goes on


def test_signing_out_closes_the_sessions_sockets_and_leaves_the_users_token_sockets_open(
    alice: User, bob: User
) -> None:
    browser = signed_in(bob)
    token = token_issue(user=bob)

    async def scenario() -> tuple[int, dict[str, Any], dict[str, Any], bool]:
        page, _ = await connected(cookie(browser))
        program, _ = await connected(bearer(token))
        status = (await in_thread(browser.post)("/logout/")).status_code
        entry = await transfer_async(sender=alice, to_user_id=bob.pk, amount="2.00")
        closed = await page.receive_output(timeout=WAIT)
        live = await program.receive_json_from(timeout=WAIT)
        quiet = await nothing_more(page)
        await page.disconnect()
        await program.disconnect()
        assert live["seq"] == entry.pk
        return status, closed, live, quiet

    status, closed, _live, quiet = run(scenario)
    assert status == 302
    assert closed == CLOSED_4401
    assert quiet


def test_a_password_change_in_the_admin_closes_every_socket_of_the_user_and_ends_their_tokens(
    admin_client: Client, alice: User, bob: User
) -> None:
    browser = signed_in(bob)
    token = token_issue(user=bob)
    url = reverse("admin:auth_user_password_change", args=[bob.pk])
    form = {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"}

    async def scenario() -> tuple[int, list[dict[str, Any]], bool]:
        page, _ = await connected(cookie(browser))
        program, _ = await connected(bearer(token))
        status = (await in_thread(admin_client.post)(url, form)).status_code
        await transfer_async(sender=alice, to_user_id=bob.pk, amount="2.00")
        closes = [await page.receive_output(timeout=WAIT), await program.receive_output(timeout=WAIT)]
        quiet = await nothing_more(page, program)
        await page.disconnect()
        await program.disconnect()
        return status, closes, quiet

    status, closes, quiet = run(scenario)
    assert status == 302
    bob.refresh_from_db()
    assert bob.check_password(NEW_PASSWORD)
    assert closes == [CLOSED_4401, CLOSED_4401]
    assert quiet
    assert not AuthToken.objects.filter(user=bob).exists()


def test_changing_the_password_on_the_api_closes_every_socket_of_the_old_credentials_and_the_new_token_connects(
    alice: User, bob: User
) -> None:
    browser = signed_in(bob)
    token, other = token_issue(user=bob), token_issue(user=bob)
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}

    async def scenario() -> dict[str, Any]:
        page, _ = await connected(cookie(browser))
        used, _ = await connected(bearer(token))
        kept_by_nobody, _ = await connected(bearer(other))
        response = await in_thread(Api(token).post)(PASSWORD_CHANGE, body)
        new_token = response.json()["token"]
        await transfer_async(sender=alice, to_user_id=bob.pk, amount="2.00")
        closes = [await s.receive_output(timeout=WAIT) for s in (page, used, kept_by_nobody)]
        quiet = await nothing_more(page, used, kept_by_nobody)
        fresh, hello = await connected(bearer(new_token))
        for socket in (page, used, kept_by_nobody, fresh):
            await socket.disconnect()
        return {"status": response.status_code, "closes": closes, "quiet": quiet, "hello": hello}

    result = run(scenario)
    assert result["status"] == 200
    assert result["closes"] == [CLOSED_4401] * 3
    assert result["quiet"]
    assert result["hello"]["type"] == "hello"


def test_changing_the_password_on_the_page_closes_the_pages_own_socket_too_and_the_next_page_reconnects(
    bob: User,
) -> None:
    # The page keeps its person signed in under a new session key (update_session_auth_hash cycles it):
    # the socket of the old key closes with the others, and the page loaded next opens a new one.
    browser = signed_in(bob)
    form = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}

    async def scenario() -> tuple[int, dict[str, Any], dict[str, Any]]:
        page, _ = await connected(cookie(browser))
        status = (await in_thread(browser.post)("/password/", form)).status_code
        closed = await page.receive_output(timeout=WAIT)
        await page.disconnect()
        reloaded, hello = await connected(cookie(browser))
        await reloaded.disconnect()
        return status, closed, hello

    status, closed, hello = run(scenario)
    assert status == 302
    assert closed == CLOSED_4401
    assert hello["type"] == "hello"


def test_a_password_reset_closes_every_socket_of_the_user(bob: User) -> None:
    browser = signed_in(bob)
    token = token_issue(user=bob)

    async def scenario() -> tuple[int, list[dict[str, Any]], bool]:
        page, _ = await connected(cookie(browser))
        program, _ = await connected(bearer(token))
        await in_thread(Api().post)(PASSWORD_RESET, {"mobile_number": bob.profile.mobile_number})
        body = {"mobile_number": bob.profile.mobile_number, "code": last_code(bob.profile.mobile_number or "")}
        status = (
            await in_thread(Api().post)(PASSWORD_RESET_CONFIRM, {**body, "new_password": NEW_PASSWORD})
        ).status_code
        closes = [await page.receive_output(timeout=WAIT), await program.receive_output(timeout=WAIT)]
        quiet = await nothing_more(page, program)
        await page.disconnect()
        await program.disconnect()
        return status, closes, quiet

    status, closes, quiet = run(scenario)
    assert status == 200
    assert closes == [CLOSED_4401, CLOSED_4401]
    assert quiet


def test_deactivating_a_user_in_the_admin_closes_every_socket_of_the_user(admin_client: Client, bob: User) -> None:
    browser = signed_in(bob)
    token = token_issue(user=bob)
    url = reverse("admin:wallets_user_change", args=[bob.pk])
    # The change form as posted with "Active" unticked (an absent checkbox is False).
    joined = timezone.localtime(bob.date_joined)
    form = {
        "username": bob.username,
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
    }

    async def scenario() -> tuple[int, list[dict[str, Any]], bool]:
        page, _ = await connected(cookie(browser))
        program, _ = await connected(bearer(token))
        status = (await in_thread(admin_client.post)(url, form)).status_code
        closes = [await page.receive_output(timeout=WAIT), await program.receive_output(timeout=WAIT)]
        quiet = await nothing_more(page, program)
        await page.disconnect()
        await program.disconnect()
        return status, closes, quiet

    status, closes, quiet = run(scenario)
    assert status == 302
    bob.refresh_from_db()
    assert not bob.is_active
    assert closes == [CLOSED_4401, CLOSED_4401]
    assert quiet


def test_an_admin_save_that_leaves_the_user_active_closes_nothing(admin_client: Client, bob: User) -> None:
    token = token_issue(user=bob)
    url = reverse("admin:wallets_user_change", args=[bob.pk])
    joined = timezone.localtime(bob.date_joined)
    form = {
        "username": bob.username,
        "first_name": "Robert",
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
    }

    async def scenario() -> tuple[int, bool]:
        program, _ = await connected(bearer(token))
        status = (await in_thread(admin_client.post)(url, form)).status_code
        quiet = await nothing_more(program)
        await program.disconnect()
        return status, quiet

    status, quiet = run(scenario)
    assert status == 302
    assert quiet
    assert AuthToken.objects.filter(user=bob).exists()


def test_a_revocation_closes_a_socket_in_the_middle_of_a_paced_replay_at_once(
    alice: User, bob: User, settings: Any
) -> None:
    # One page goes at once, the next only 2 s later: the revocation must not wait for it.
    settings.PAYLANE_WS_REPLAY_PAGE_SIZE = 20
    settings.PAYLANE_WS_REPLAY_BURST = 20
    settings.PAYLANE_WS_REPLAY_RATE = 10
    for _ in range(60):
        services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    token = token_issue(user=bob)

    async def scenario() -> tuple[list[dict[str, Any]], float]:
        socket, _ = await connected(bearer(token))
        await socket.send_json_to({"type": "resume", "after_seq": 0})
        for _ in range(20):
            await socket.receive_json_from(timeout=WAIT)
        await asyncio.sleep(0.3)  # the replay now waits for its pace, its credential checked
        started = time.monotonic()
        await in_thread(Api(token).delete)(TOKEN)
        outputs = []
        while (output := await socket.receive_output(timeout=WAIT))["type"] != "websocket.close":
            outputs.append(output)
        took = time.monotonic() - started
        assert output == CLOSED_4401
        assert await nothing_more(socket)
        await socket.disconnect()
        return outputs, took

    outputs, took = run(scenario)
    assert took < 1.0
    assert outputs == []


# --- The slow path: the message was lost ---------------------------------------------------------


@pytest.fixture
def message_lost(monkeypatch: pytest.MonkeyPatch) -> None:
    """Revocations reach the database but no socket (Redis was down when they were published)."""
    monkeypatch.setattr(notify, "credentials_revoked", lambda **kwargs: None)


@pytest.mark.parametrize(
    "frame",
    [{"type": "ping"}, {"type": "resume", "after_seq": 0}],
    ids=["ping", "resume"],
)
def test_with_the_message_lost_a_revoked_token_closes_on_the_next_ping_or_resume(
    bob: User, message_lost: None, frame: dict[str, Any]
) -> None:
    token = token_issue(user=bob)

    async def scenario() -> tuple[bool, dict[str, Any], bool]:
        socket, _ = await connected(bearer(token))
        await in_thread(Api(token).delete)(TOKEN)
        still_open = await nothing_more(socket)
        await socket.send_json_to(frame)
        closed = await socket.receive_output(timeout=WAIT)
        quiet = await nothing_more(socket)
        await socket.disconnect()
        return still_open, closed, quiet

    still_open, closed, quiet = run(scenario)
    assert still_open  # the lost message closed nothing: the check on the next frame does
    assert closed == CLOSED_4401
    assert quiet


def test_with_the_message_lost_a_signed_out_session_closes_on_the_next_ping(bob: User, message_lost: None) -> None:
    browser = signed_in(bob)

    async def scenario() -> dict[str, Any]:
        socket, _ = await connected(cookie(browser))
        await in_thread(browser.post)("/logout/")
        await socket.send_json_to({"type": "ping"})
        closed = await socket.receive_output(timeout=WAIT)
        await socket.disconnect()
        return closed

    assert run(scenario) == CLOSED_4401


def test_with_the_message_lost_a_password_change_closes_session_sockets_on_the_next_ping(
    bob: User, message_lost: None
) -> None:
    browser = signed_in(bob)

    def change_password() -> None:
        bob.set_password(NEW_PASSWORD)
        bob.save()

    async def scenario() -> dict[str, Any]:
        socket, _ = await connected(cookie(browser))
        await in_thread(change_password)()
        await socket.send_json_to({"type": "ping"})
        closed = await socket.receive_output(timeout=WAIT)
        await socket.disconnect()
        return closed

    assert run(scenario) == CLOSED_4401


def test_an_expired_token_closes_its_socket_on_the_next_ping(bob: User) -> None:
    token = token_issue(user=bob)

    def expire() -> None:
        AuthToken.objects.filter(user=bob).update(expiry=timezone.now() - timedelta(seconds=1))

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        socket, _ = await connected(bearer(token))
        await socket.send_json_to({"type": "ping"})
        pong = await socket.receive_json_from(timeout=WAIT)
        await in_thread(expire)()
        await socket.send_json_to({"type": "ping"})
        closed = await socket.receive_output(timeout=WAIT)
        await socket.disconnect()
        return pong, closed

    pong, closed = run(scenario)
    assert pong["type"] == "pong"
    assert closed == CLOSED_4401


def test_a_token_revoked_while_its_socket_connects_gets_4401_instead_of_hello(
    bob: User, message_lost: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Revoked after the handshake's check and before the socket joined its group:
    # the message reached no socket, so the socket checks again once it has joined.
    token = token_issue(user=bob)
    authenticate: Callable[..., Any] = auth._token_authenticate

    async def then_revoked(*, key: str) -> Any:
        found = await authenticate(key=key)
        await in_thread(Api(token).delete)(TOKEN)
        return found

    monkeypatch.setattr(auth, "_token_authenticate", then_revoked)

    async def scenario() -> dict[str, Any]:
        socket = communicator(bearer(token))
        connected_ok, _ = await socket.connect(timeout=WAIT)
        assert connected_ok
        first = await socket.receive_output(timeout=WAIT)
        await socket.disconnect()
        return first

    assert run(scenario) == CLOSED_4401
