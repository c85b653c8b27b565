"""An unexpected error under /api/ answers the JSON envelope (500 ``server_error``), never Django's HTML page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from tests.wallets.api.conftest import Api, error_of
from wallets.models import User


def _explode(*args: object, **kwargs: object) -> None:
    raise RuntimeError("a bug")


@pytest.mark.parametrize("debug", [False, True])
def test_an_unexpected_error_in_an_api_view_is_a_json_500(
    api_for: Callable[[User], Api], alice: User, settings, monkeypatch, debug: bool
) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG = debug
    monkeypatch.setattr("wallets.selectors.wallet_for_user", _explode)
    response = api_for(alice).get("/api/v1/wallet/")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "server_error"
    assert "a bug" not in response.content.decode()


def test_an_unexpected_error_outside_the_api_views_is_a_json_500_under_api(db: None, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The catch-all for unknown API paths is a plain Django view, outside DRF's handler.
    monkeypatch.setattr("wallets.api.views.error_response", _explode)
    response = Client(raise_request_exception=False).get("/api/v1/no-such-thing/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"


def test_an_unexpected_error_on_a_page_is_still_the_html_500(alice: User, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr("wallets.selectors.wallet_for_user", _explode)
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    response = client.get("/dashboard/")
    assert response.status_code == 500
    assert "application/json" not in response["Content-Type"]
