"""The error envelope for everything that can go wrong before a service runs, and the schema."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from django.core.management import call_command
from django.test import Client

from tests.wallets.api.conftest import Api, error_of, state
from wallets.models import User

TOP_UPS = "/api/v1/wallet/top-ups/"


@pytest.mark.parametrize(
    "raw",
    [
        '{"amount": ',
        "not json",
        '{"amount": NaN}',
        '{"amount": Infinity}',
        "\xff\xfe",
        '{"a": 1e999999999}',
        "[" * 5000,
    ],
)
def test_malformed_json_is_a_400_validation_error(api_for: Callable[[User], Api], alice: User, raw: str) -> None:
    before = state()
    response = api_for(alice).post(TOP_UPS, raw=raw.encode("latin-1"))
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] in ("validation_error", "invalid_amount")
    assert state() == before


def test_nesting_deeper_than_the_decoder_allows_is_a_400_bad_request(
    api_for: Callable[[User], Api], alice: User
) -> None:
    response = api_for(alice).post(TOP_UPS, raw="[" * 60000)
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


@pytest.mark.parametrize("path", [TOP_UPS, "/api/v1/transfers/"])
@pytest.mark.parametrize("depth", [33, 3000])
def test_a_body_nested_past_the_limit_is_a_400_bad_request_even_with_an_idempotency_key(
    api_for: Callable[[User], Api], alice: User, path: str, depth: int
) -> None:
    before = state()
    body = "[" * depth + "]" * depth
    response = api_for(alice).post(path, raw=f'{{"amount": "1", "x": {body}}}', **{"Idempotency-Key": "deep-1"})
    assert response.status_code == 400, response.content
    assert error_of(response)["code"] == "bad_request"
    assert state() == before


def test_a_body_nested_up_to_the_limit_is_read(api_for: Callable[[User], Api], alice: User) -> None:
    nested = "[" * 31 + "]" * 31  # 32 levels with the object around it
    response = api_for(alice).post(TOP_UPS, raw=f'{{"amount": "1", "x": {nested}}}', **{"Idempotency-Key": "deep-2"})
    assert response.status_code == 201, response.content


def test_a_body_over_64_kib_is_413(api_for: Callable[[User], Api], alice: User) -> None:
    before = state()
    body = json.dumps({"amount": "1", "pad": "x" * 65536})
    response = api_for(alice).post(TOP_UPS, raw=body)
    assert response.status_code == 413
    assert error_of(response)["code"] == "payload_too_large"
    assert api_for(alice).post(TOP_UPS, raw=json.dumps({"amount": "1", "pad": "x" * 60000})).status_code == 201
    assert state()[1] == before[1] + 1


def test_a_body_that_is_not_json_is_415(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data; boundary=x"):
        response = api.post(TOP_UPS, raw="amount=5", content_type=content_type)
        assert response.status_code == 415, content_type
        assert error_of(response)["code"] == "unsupported_media_type"


def test_unknown_paths_and_methods_are_json_404_and_405(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    for path in ("/api/v1/nope/", "/api/v1/transactions/abc/", "/api/v1/wallet/top-ups/x/"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
    for method, path in (
        ("PUT", "/api/v1/wallet/"),
        ("GET", TOP_UPS),
        ("PATCH", "/api/v1/transfers/"),
        ("DELETE", "/api/v1/transactions/"),
    ):
        response = api.request(method, path)
        assert response.status_code == 405, (method, path)
        assert error_of(response)["code"] == "method_not_allowed"


def test_a_missing_trailing_slash_redirects_keeping_the_method(api_for: Callable[[User], Api], alice: User) -> None:
    api = api_for(alice)
    before = state()
    get = api.get("/api/v1/wallet", {"x": "1"})
    post = api.post("/api/v1/wallet/top-ups", {"amount": "5"})
    assert (get.status_code, get["Location"]) == (301, "/api/v1/wallet/?x=1")
    assert (post.status_code, post["Location"]) == (308, "/api/v1/wallet/top-ups/")
    assert state() == before
    followed = api.client.post(
        "/api/v1/wallet/top-ups",
        {"amount": "5"},
        content_type="application/json",
        headers=api._headers(None),
        follow=True,
    )
    assert followed.status_code == 201


def test_unknown_fields_are_ignored(api_for: Callable[[User], Api], alice: User) -> None:
    response = api_for(alice).post(TOP_UPS, {"amount": "5", "currency": "USD", "extra": {"deep": [1, 2]}})
    assert response.status_code == 201 and response.json()["currency"] == "INR"


def test_the_openapi_schema_is_served_and_valid(client: Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert {"/api/v1/transfers/", "/api/v1/wallet/top-ups/", "/api/v1/transactions/{transaction_id}/"} <= set(
        schema["paths"]
    )
    transfer = schema["paths"]["/api/v1/transfers/"]["post"]
    assert {"201", "400", "401", "409", "413", "415", "422", "429"} <= set(transfer["responses"])
    assert any(p["name"] == "Idempotency-Key" and p["in"] == "header" for p in transfer["parameters"])
    docs = client.get("/api/v1/docs/")
    assert docs.status_code == 200
    # Offline: the interactive docs load their scripts and styles from this service only.
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in docs.content.decode()
    assert "cdn" not in docs.content.decode().lower()
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))


def test_missing_slashes_never_500_even_in_debug(api_for: Callable[[User], Api], alice: User, settings) -> None:  # type: ignore[no-untyped-def]
    # With DEBUG on, Django's APPEND_SLASH raises RuntimeError for a POST; the API answers first.
    settings.DEBUG = True
    api = api_for(alice)
    for path in ("/api", "/api/v1", "/api/v2/transfers"):
        response = api.post(path, {"amount": "1"})
        assert response.status_code == 404, path
        assert error_of(response)["code"] == "not_found"
    assert api.post("/api/v1/transfers", {"amount": "1"}).status_code == 308
