"""Property-based fuzzing of every endpoint: no input gives a 500, refused input changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import PIN
from tests.wallets.api.conftest import Api, state
from wallets import services
from wallets.models import User

FIELDS = ["amount", "to_user_id", "to_mobile", "pin", "username", "password", "mobile_number", "extra"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.sampled_from([Decimal("1E+999999999"), Decimal("-1E-999999999"), Decimal("1" * 40)])
    | st.text(max_size=20)
    | st.sampled_from(["1", "10.50", "0.001", "-1", "1e3", " 5 ", "+919812345678", "98123 45678", "٣", "NaN", "a\x00b"])
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=4) | json_values

FUZZ = hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def to_json(value: Any) -> str:
    """json.dumps, but Decimals as JSON numbers (the API reads them back as Decimals)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, str):
        import json

        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return "{" + ",".join(f"{to_json(str(k))}:{to_json(v)}" for k, v in value.items()) + "}"


def check(response: Any, before: tuple[Any, ...]) -> None:
    assert response.status_code < 500
    if response.status_code >= 300 and response.status_code not in (301, 308):
        error = response.json()["error"]
        assert (
            isinstance(error["code"], str) and isinstance(error["message"], str) and isinstance(error["fields"], dict)
        )
        if "transaction_id" not in error:  # a FAILED attempt is a recorded business outcome, not refused input
            assert state() == before


@pytest.fixture
def setup(api_for: Callable[[User], Api], alice: User, bob: User, settings) -> tuple[Api, User, User]:  # type: ignore[no-untyped-def]
    settings.PAYLANE_TRANSFER_RATE = "100000/m"
    return api_for(alice), alice, bob


@FUZZ
@given(body=bodies, key=st.none() | st.text(max_size=300).filter(lambda k: "\n" not in k and "\r" not in k))
def test_top_ups_never_fail_with_a_500(setup: tuple[Api, User, User], body: Any, key: str | None) -> None:
    api, _, _ = setup
    before = state()
    headers = {"Idempotency-Key": key} if key is not None else {}
    check(api.post("/api/v1/wallet/top-ups/", raw=to_json(body), **headers), before)


@FUZZ
@given(
    body=bodies,
    recipient=st.sampled_from(["bob", "alice", "bob-str", "bob-mobile", "none"]),
    # Mostly the right PIN, so the fuzzing reaches the transfer; wrong ones lock alice out for the rest.
    pin=st.sampled_from([PIN, PIN, PIN, PIN, "0000", " 4826 ", "48 26", "", None, 4826]),
    key=st.none() | st.text(min_size=1, max_size=8).filter(str.isprintable),
)
def test_transfers_never_fail_with_a_500(
    setup: tuple[Api, User, User], body: Any, recipient: str, pin: Any, key: str | None
) -> None:
    api, alice, bob = setup
    if isinstance(body, dict) and recipient != "none":
        body = dict(body)
        body.pop("to_user_id", None), body.pop("to_mobile", None)
        body.update(
            {
                "bob": {"to_user_id": bob.pk},
                "alice": {"to_user_id": alice.pk},
                "bob-str": {"to_user_id": str(bob.pk)},
                "bob-mobile": {"to_mobile": "+919812345678"},
            }[recipient]
        )
        body.setdefault("pin", pin)
    before = state()
    headers = {"Idempotency-Key": key} if key is not None else {}
    check(api.post("/api/v1/transfers/", raw=to_json(body), **headers), before)


@FUZZ
@given(body=bodies, path=st.sampled_from(["/api/v1/auth/register/", "/api/v1/auth/token/"]))
def test_auth_endpoints_never_fail_with_a_500(anon: Api, body: Any, path: str) -> None:
    before = state()
    response = anon.post(path, raw=to_json(body))
    assert response.status_code < 500
    if response.status_code >= 400:
        assert state() == before


@FUZZ
@given(
    raw=st.binary(max_size=200),
    content_type=st.sampled_from(
        [
            "application/json",
            "application/json; charset=utf-8",
            "application/json; charset=latin-1",
            "application/json; charset=bogus",
            "text/plain",
            "",
            "application/x-www-form-urlencoded",
        ]
    ),
    path=st.sampled_from(
        ["/api/v1/wallet/top-ups/", "/api/v1/transfers/", "/api/v1/auth/register/", "/api/v1/auth/token/"]
    ),
)
def test_raw_bytes_never_fail_with_a_500(
    setup: tuple[Api, User, User], raw: bytes, content_type: str, path: str
) -> None:
    api, _, _ = setup
    before = state()
    check(api.post(path, raw=raw, content_type=content_type), before)


@FUZZ
@given(
    limit=st.none() | st.text(max_size=12) | st.integers().map(str),
    cursor=st.none() | st.text(max_size=60),
    tail=st.text(max_size=30),
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]),
)
def test_reads_and_odd_paths_never_fail_with_a_500(
    setup: tuple[Api, User, User], limit: str | None, cursor: str | None, tail: str, method: str
) -> None:
    api, alice, _ = setup
    services.wallet_top_up(user=alice, amount="1")
    params = {k: v for k, v in (("limit", limit), ("cursor", cursor)) if v is not None}
    assert api.get("/api/v1/transactions/", params).status_code in (200, 400)
    before = state()
    response = api.request(method, "/api/v1/" + quote(tail, safe="/"))
    assert response.status_code < 500
    if method not in ("GET", "HEAD", "OPTIONS"):
        assert state() == before


FILTERS = ["since", "until", "counterparty", "direction", "type", "status", "min_amount", "max_amount", "q"]
filter_values = (
    st.text(max_size=20)
    | st.dates().map(str)
    | st.integers(min_value=-(10**20), max_value=10**20).map(str)
    | st.sampled_from(
        [
            "0001-01-01",
            "9999-12-31",
            "2026-02-29",
            "in",
            "out",
            "TRANSFER",
            "FAILED",
            "0.01",
            "1" * 13,
            "%",
            "_",
            "a\x00b",
        ]
    )
)


@FUZZ
@given(filters=st.dictionaries(st.sampled_from(FILTERS), filter_values, max_size=5), limit=st.sampled_from(["1", "20"]))
def test_history_filters_never_fail_with_a_500(
    setup: tuple[Api, User, User], filters: dict[str, str], limit: str
) -> None:
    api, alice, bob = setup
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1", note="fuzz")
    response = api.get("/api/v1/transactions/", {**filters, "limit": limit})
    assert response.status_code in (200, 400), response.content
    if response.status_code == 400:
        error = response.json()["error"]
        assert error["code"] == "invalid_filter" and set(error["fields"]) <= set(FILTERS)
    elif response.json()["next"] is not None:
        assert api.get(response.json()["next"]).status_code == 200
