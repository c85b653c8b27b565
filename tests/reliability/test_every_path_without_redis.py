"""With Redis down, every path the service serves answers as documented: never a 500.

A private redis-server is started, the cache (rate limits) and the channel layer
(pushes, revocations, the websocket) are pointed at it, and it is stopped: every
connection to it is then refused, as when the real one dies. Each URL pattern of
the project (walked from the URLconf, so a new path cannot be forgotten: the test
fails until the table below has it) gets a representative request, API, pages,
probes and admin alike, and the websocket its handshake. tests/reliability/
test_redis_outage.py does the same through a live daphne for the main journey.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.test import Client, override_settings
from django.urls import URLPattern, URLResolver, get_resolver

from ledger.models import Transaction
from realtime.events import CLOSE_TRY_AGAIN
from tests.conftest import PIN
from tests.realtime.communicator import WAIT, bearer, communicator, run
from tests.support.forms import form_page, form_token
from tests.support.live import RedisServer
from tests.support.sms import last_code
from wallets import money_requests
from wallets.accounts.tokens import token_issue
from wallets.models import User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

ALICE, BOB, NEWCOMER = "+919876543210", "+919812345678", "+919800000077"


@dataclass
class Callers:
    alice: User
    bob: User
    staff: User
    token: str = ""
    newcomer_token: str = ""  # an account whose number is not verified yet
    api: Client = field(default_factory=Client)
    page: Client = field(default_factory=Client)
    admin: Client = field(default_factory=Client)
    anon: Client = field(default_factory=Client)
    newcomer_page: Client = field(default_factory=Client)

    def bearer(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.token}"}

    def as_newcomer(self, path: str, body: dict[str, Any] | None = None) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.newcomer_token}"}
        return self.api.post(path, body or {}, content_type="application/json", **headers)

    def get(self, path: str) -> Any:
        return self.api.get(path, **self.bearer())

    def post(self, path: str, body: dict[str, Any] | None = None, method: str = "post") -> Any:
        return getattr(self.api, method)(path, body or {}, content_type="application/json", **self.bearer())

    def pay_request(self, request_id: int) -> Any:
        page = self.page.get("/requests/").content.decode()
        pay_form = page.split(f'action="/requests/{request_id}/pay/"', 1)[1]
        return self.page.post(f"/requests/{request_id}/pay/", {"form_token": form_token(pay_form), "pin": PIN})

    def form(self, path: str, data: dict[str, str]) -> Any:
        page = form_page(self.page, path, data).content.decode()
        return self.page.post(path, {**data, "form_token": form_token(page), "pin": PIN})


Call = Callable[[Callers], Any]


def asked(c: Callers, requester: str = "bob") -> int:
    """A money request between alice and bob, made through the service: its id."""
    by, of = (c.bob, c.alice) if requester == "bob" else (c.alice, c.bob)
    return money_requests.request_create(requester=by, to_user_id=of.pk, amount="1.00").pk


# Every URL pattern's name (None: the API's catch-all outside /api/v1/), and what to send it with Redis
# down: (the status it must answer, the request). Statuses are what a client gets with Redis up too;
# only /readyz differs (503, naming Redis).
# fmt: off
PATHS: dict[str | None, list[tuple[int, Call]]] = {
    "healthz": [(200, lambda c: c.anon.get("/healthz"))],
    "readyz": [(503, lambda c: c.anon.get("/readyz"))],
    "metrics": [(200, lambda c: c.anon.get("/metrics", REMOTE_ADDR="127.0.0.1"))],
    "api-register": [(201, lambda c: c.anon.post("/api/v1/auth/register/", {"username": "carol", "password": "a long walk to the shop", "mobile_number": "+919800000001"}, content_type="application/json"))],  # noqa: E501
    "api-token": [(200, lambda c: c.anon.post("/api/v1/auth/token/", {"username": "alice", "password": "correct horse battery staple"}, content_type="application/json"))],  # noqa: E501
    "api-mobile-code": [(202, lambda c: c.as_newcomer("/api/v1/auth/mobile/code/"))],
    "api-mobile-verify": [(400, lambda c: c.as_newcomer("/api/v1/auth/mobile/verify/", {"code": "000000"}))],
    "api-pin": [(400, lambda c: c.post("/api/v1/auth/pin/", {"pin": "1234"}, method="put"))],
    "api-pin-code": [(202, lambda c: c.post("/api/v1/auth/pin/code/"))],
    "api-name": [(200, lambda c: c.post("/api/v1/auth/name/", {"first_name": "Alice"}, method="put"))],
    "api-recipients": [(200, lambda c: c.get(f"/api/v1/recipients/?mobile=%2B{BOB[1:]}")),
                       (404, lambda c: c.get("/api/v1/recipients/?mobile=%2B919800000900"))],
    "api-password-change": [(400, lambda c: c.post("/api/v1/auth/password/", {"current_password": "wrong one here", "new_password": "another long passphrase"}))],  # noqa: E501
    "api-password-reset": [(202, lambda c: c.anon.post("/api/v1/auth/password/reset/", {"mobile_number": ALICE}, content_type="application/json"))],  # noqa: E501
    "api-password-reset-confirm": [(400, lambda c: c.anon.post("/api/v1/auth/password/reset/confirm/", {"mobile_number": ALICE, "code": "000000", "new_password": "another long passphrase"}, content_type="application/json"))],  # noqa: E501
    "api-wallet": [(200, lambda c: c.get("/api/v1/wallet/"))],
    "api-top-ups": [(201, lambda c: c.post("/api/v1/wallet/top-ups/", {"amount": "5.00"}))],
    "api-transfers": [(201, lambda c: c.post("/api/v1/transfers/", {"to_mobile": BOB, "amount": "2.00", "pin": PIN})),
                      (201, lambda c: c.post("/api/v1/transfers/", {"to_user_id": c.bob.pk, "amount": "1.00", "pin": PIN, "note": "x"}))],  # noqa: E501
    "api-transactions": [(200, lambda c: c.get("/api/v1/transactions/"))],
    "api-transaction": [(200, lambda c: c.get(f"/api/v1/transactions/{Transaction.objects.filter(receiver=c.alice).first().pk}/"))],  # type: ignore[union-attr]  # noqa: E501
    "api-transaction-refund": [(403, lambda c: c.post(f"/api/v1/transactions/{Transaction.objects.filter(receiver=c.alice, transaction_type='ADD_MONEY').first().pk}/refund/", {"pin": PIN}))],  # type: ignore[union-attr]  # noqa: E501
    "api-statements": [(200, lambda c: c.get("/api/v1/statements/?from=2026-01-01&to=2026-01-31")),
                       (400, lambda c: c.get("/api/v1/statements/?from=2026-01-31&to=2026-01-01"))],
    "api-requests": [(201, lambda c: c.post("/api/v1/requests/", {"to_mobile": BOB, "amount": "2.00"})),
                     (200, lambda c: c.get("/api/v1/requests/?direction=incoming&status=PENDING"))],
    "api-request": [(200, lambda c: c.get(f"/api/v1/requests/{asked(c)}/"))],
    "api-request-pay": [(201, lambda c: c.post(f"/api/v1/requests/{asked(c)}/pay/", {"pin": PIN}))],
    "api-request-decline": [(200, lambda c: c.post(f"/api/v1/requests/{asked(c)}/decline/"))],
    "api-request-cancel": [(200, lambda c: c.post(f"/api/v1/requests/{asked(c, 'alice')}/cancel/"))],
    "api-request-mutes": [(201, lambda c: c.post("/api/v1/requests/mutes/", {"user_id": c.staff.pk})),
                          (200, lambda c: c.get("/api/v1/requests/mutes/"))],
    "api-request-mute": [(204, lambda c: c.post(f"/api/v1/requests/mutes/{c.staff.pk}/", method="delete"))],
    "api-schema": [(200, lambda c: c.anon.get("/api/v1/schema/"))],
    "api-docs": [(200, lambda c: c.anon.get("/api/v1/docs/"))],
    "api-fallback": [(404, lambda c: c.get("/api/v1/no-such-thing/"))],
    None: [(404, lambda c: c.anon.get("/api/nothing"))],
    "home": [(200, lambda c: c.anon.get("/")),
             (302, lambda c: c.anon.post("/", {"action": "login", "login-username": "bob", "login-password": "correct horse battery staple"})),  # noqa: E501
             (302, lambda c: Client().post("/", {"action": "register", "register-username": "dave", "register-mobile_number": "+919800000002", "register-password": "a long walk to the shop", "register-password_confirm": "a long walk to the shop"}))],  # noqa: E501
    "dashboard": [(200, lambda c: c.page.get("/dashboard/"))],
    "add_money": [(302, lambda c: c.form("/add-money/", {"amount": "3.00"}))],
    "transfer": [(302, lambda c: c.form("/transfer/", {"to_user_id": str(c.bob.pk), "amount": "1.00"}))],
    "pay_mobile": [(302, lambda c: c.form("/pay-mobile/", {"mobile_number": BOB, "amount": "1.00"}))],
    "transactions": [(200, lambda c: c.page.get("/transactions/"))],
    "refund": [(400, lambda c: c.page.get(f"/transactions/{Transaction.objects.filter(receiver=c.alice, transaction_type='ADD_MONEY').first().pk}/refund/"))],  # type: ignore[union-attr]  # noqa: E501
    "statements": [(200, lambda c: c.page.get("/statements/")),
                   (200, lambda c: c.page.get("/statements/?from=2026-01-01&to=2026-01-31&format=pdf")),
                   (400, lambda c: c.page.get("/statements/?from=2026-01-31&to=2026-01-01&format=csv"))],
    "requests": [(200, lambda c: c.page.get("/requests/")),
                 (302, lambda c: c.page.post("/requests/", {"to_user_id": str(c.bob.pk), "amount": "1.00"}))],
    "request_pay": [(302, lambda c: c.pay_request(asked(c)))],
    "request_decline": [(302, lambda c: c.page.post(f"/requests/{asked(c)}/decline/"))],
    "request_cancel": [(302, lambda c: c.page.post(f"/requests/{asked(c, 'alice')}/cancel/"))],
    "verify_mobile": [(200, lambda c: c.newcomer_page.get("/verify-mobile/")),
                      (302, lambda c: c.newcomer_page.post("/verify-mobile/", {"action": "verify", "code": last_code(NEWCOMER)}))],  # noqa: E501
    "pin": [(302, lambda c: c.page.post("/pin/", {"action": "code"}))],
    "display_name": [(302, lambda c: c.page.post("/name/", {"first_name": "Alice", "last_name": "Rao"}))],
    "password_change": [(400, lambda c: c.page.post("/password/", {"current_password": "wrong one here", "new_password": "x", "new_password_confirm": "x"}))],  # noqa: E501
    "password_reset": [(302, lambda c: Client().post("/password/reset/", {"mobile_number": ALICE}))],
    "password_reset_confirm": [(400, lambda c: Client().post("/password/reset/confirm/", {"mobile_number": ALICE, "code": "000000", "new_password": "another long passphrase", "new_password_confirm": "another long passphrase"}))],  # noqa: E501
    "logout": [(302, lambda c: c.page.post("/logout/"))],
    "admin": [(200, lambda c: c.admin.get("/admin/")), (200, lambda c: c.admin.get("/admin/ledger/transaction/")),
              (200, lambda c: c.admin.get("/admin/ledger/reversalproposal/")),
              (200, lambda c: Client().get("/admin/login/"))],
}
# fmt: on


def url_names() -> set[str | None]:
    names: set[str | None] = set()

    def walk(patterns: list[Any]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if getattr(pattern, "app_name", None) == "admin":
                    names.add("admin")
                else:
                    walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern):
                names.add(pattern.name)

    walk(get_resolver().url_patterns)
    return names


@pytest.fixture
def redis_down(tmp_path: Path) -> Iterator[None]:
    """The cache and the channel layer on a private redis-server, stopped: every connection refused."""
    redis = RedisServer(tmp_path)
    redis.start()
    port_url = redis.url
    redis.stop()
    caches = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": port_url,
            "KEY_PREFIX": "paylane",
            "OPTIONS": {"SOCKET_CONNECT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.5},
        }
    }
    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [{"address": port_url, "socket_connect_timeout": 1}]},
        }
    }
    with override_settings(CACHES=caches, CHANNEL_LAYERS=layers, REDIS_URL=port_url):
        yield


def test_the_table_names_every_path_the_service_serves() -> None:
    assert url_names() == set(PATHS), "add the new path to PATHS, with what it answers while Redis is down"


def test_with_redis_down_every_path_answers_as_documented_and_never_500(
    register: Callable[..., User], admin_user: User, redis_down: None
) -> None:
    callers = Callers(
        alice=register("alice", mobile=ALICE, balance="100.00"), bob=register("bob", mobile=BOB), staff=admin_user
    )
    callers.token = token_issue(user=callers.alice)
    erin = register("erin", mobile=NEWCOMER, verify=False)
    callers.newcomer_token = token_issue(user=erin)
    callers.newcomer_page.force_login(erin)
    callers.page.force_login(callers.alice)
    callers.admin.force_login(admin_user)

    answered: dict[str, int] = {}
    for name, requests in PATHS.items():
        for number, (status, call) in enumerate(requests):
            response = call(callers)
            answered[f"{name}#{number}"] = response.status_code
            assert response.status_code == status, (name, number, response.status_code, response.content[:400])
    assert (
        Transaction.objects.filter(transaction_type="TRANSFER", status="SUCCESS").count() == 6
    )  # two on the API, two on the pages, a request paid on the API and one on its page
    assert last_code(ALICE)  # codes still went out (the SMS backend needs no Redis)


@pytest.mark.django_db(transaction=True)
def test_with_redis_down_the_websocket_answers_try_again_later(register: Callable[..., User], redis_down: None) -> None:
    bob = register("bob", mobile=BOB)

    async def handshake() -> Any:
        comm = communicator(await database_sync_to_async(bearer)(bob))
        accepted, _ = await comm.connect(timeout=WAIT)
        assert accepted
        first = await comm.receive_output(timeout=WAIT)
        await comm.disconnect()
        return first

    # 1013, as documented, before any frame: never a crash (it was one, in a process that had not
    # reached Redis before the outage: Channels' new_channel() raised before connect()).
    assert run(handshake) == {"type": "websocket.close", "code": CLOSE_TRY_AGAIN}
