"""API test helpers: a JSON client signed in with a Bearer token (that sends the PIN with transfers), a clean cache."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from ledger.models import Transaction
from tests.conftest import PIN
from wallets.accounts.tokens import token_issue
from wallets.models import IdempotencyKey, User, Wallet

TRANSFERS = "/api/v1/transfers/"


class Api:
    """A test client that speaks JSON and sends ``Authorization: Bearer <token>`` when it has one."""

    def __init__(self, token: str | None = None) -> None:
        self.client = Client()
        self.token = token

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return {**out, **(headers or {})}

    def get(self, path: str, params: dict[str, Any] | None = None, **headers: str) -> Any:
        return self.client.get(path, params or {}, headers=self._headers(headers))

    def post(
        self,
        path: str,
        body: Any = None,
        *,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        pin: str | None = PIN,
        **headers: str,
    ) -> Any:
        """POST ``body`` as JSON; a transfer's body gets ``"pin": pin`` unless it has one (``pin=None``: none)."""
        if path == TRANSFERS and isinstance(body, dict) and "pin" not in body and pin is not None:
            body = {**body, "pin": pin}
        data = raw if raw is not None else ("" if body is None else json.dumps(body))
        # generic() sends the bytes as they are; post() would re-encode them with the charset.
        return self.client.generic("POST", path, data, content_type=content_type, headers=self._headers(headers))

    def put(self, path: str, body: Any = None, **headers: str) -> Any:
        data = "" if body is None else json.dumps(body)
        return self.client.generic("PUT", path, data, content_type="application/json", headers=self._headers(headers))

    def delete(self, path: str, **headers: str) -> Any:
        return self.client.delete(path, headers=self._headers(headers))

    def request(self, method: str, path: str, **headers: str) -> Any:
        return self.client.generic(method, path, headers=self._headers(headers))


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    # The rate-limit counters live in the cache (Redis on the PostgreSQL pass).
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def api_for(db: None) -> Callable[[User], Api]:
    def make(user: User) -> Api:
        return Api(token_issue(user=user))

    return make


@pytest.fixture
def anon(db: None) -> Api:
    return Api()


def state() -> tuple[Any, ...]:
    """Everything a refused request must leave alone."""
    return (
        list(Wallet.objects.order_by("pk").values_list("balance", "version", "spent_today")),
        Transaction.objects.count(),
        IdempotencyKey.objects.count(),
        User.objects.count(),
    )


def error_of(response: Any) -> dict[str, Any]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message", "fields"} <= set(body["error"]), body
    return body["error"]
