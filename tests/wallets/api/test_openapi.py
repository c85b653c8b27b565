"""The served OpenAPI schema against the server's own parsers: each accepts exactly what the other does.

A schema-valid value the server refuses breaks clients generated from the schema; a
schema-invalid value the server accepts makes the schema lie the other way. Each test
draws values near and far from a rule and compares the two verdicts; the schemathesis
run (test_schemathesis.py) does the same for whole requests against the live server.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import date
from decimal import Decimal
from typing import Any

import jsonschema_rs
import pytest
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import ValidationError

from wallets import history, idempotency, phone, recipients
from wallets.accounts import pins
from wallets.api import openapi
from wallets.api import serializers as s
from wallets.api.pagination import cursor_decode, cursor_encode, limit_parse
from wallets.errors import InvalidFilter, ValidationFailed, WalletError
from wallets.models import User

EXAMPLES = settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    generated = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(generated))


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's ``nullable`` as JSON Schema, as validators and schemathesis read it."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    plain = {key: _json_schema(value) for key, value in node.items() if key not in ("nullable", "example")}
    return {"anyOf": [plain, {"type": "null"}]} if node.get("nullable") else plain


def _validator(fragment: dict[str, Any]) -> Any:
    return jsonschema_rs.Draft4Validator(_json_schema(fragment))


def _request(schema: dict[str, Any], path: str, method: str = "post") -> dict[str, Any]:
    ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    component: dict[str, Any] = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return component


def _parameter(schema: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    found = [p for p in schema["paths"][path][method]["parameters"] if p["name"] == name]
    assert len(found) == 1, name
    parameter: dict[str, Any] = found[0]["schema"]
    return parameter


def _as_json(value: Any) -> Any:
    """What the server's parser makes of ``value`` sent as JSON: numbers become Decimal."""
    return json.loads(json.dumps(value), parse_float=Decimal)


def _accepts(field: Any, value: Any) -> bool:
    try:
        field.run_validation(value)
    except ValidationError:
        return False
    return True


# Text near every rule: digits, separators, signs, whitespace of both kinds, NUL, letters.
_NEAR = st.text(alphabet="0123456789 .+-()/eE,\t\n\x00\x1c\x85\xa0\u3000\ufeffaé٣", max_size=24)
# Characters Python's Unicode database knows. A code point assigned only in a newer Unicode
# version (the JSON Schema validator's regex tables are newer than Python 3.13's 15.1) is a
# letter to the schema and unassigned to Django's \w: outside what the schema can promise.
_TEXT = st.one_of(_NEAR, st.text(alphabet=st.characters(exclude_categories=["Cn", "Cs"]), max_size=40))


def _drawn(pattern: str) -> st.SearchStrategy[str]:
    return st.from_regex(re.compile(pattern), fullmatch=True)


def test_the_space_class_is_exactly_what_python_strips() -> None:
    space = re.compile(openapi.SPACE)
    stripped = {chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF and chr(c).isspace()}
    matched = {chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF and space.fullmatch(chr(c))}
    assert matched == stripped


def test_an_amount_is_valid_in_the_schema_exactly_when_the_server_accepts_it(schema: dict[str, Any]) -> None:
    amount = _validator(_request(schema, "/api/v1/wallet/top-ups/")["properties"]["amount"])
    field = s.AmountField()

    @EXAMPLES
    @given(
        st.one_of(
            _drawn(openapi.AMOUNT["oneOf"][0]["pattern"]),
            _TEXT,
            st.integers(min_value=-10, max_value=10**13),
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(min_value=-5, max_value=10**14).map(lambda cents: cents / 100),
            st.booleans(),
            st.none(),
        )
    )
    def agree(value: Any) -> None:
        sent = _as_json(value)
        assert amount.is_valid(json.loads(json.dumps(value))) == _accepts(field, sent), value

    agree()
    for canonical in ("250.50", "0.01", "999999999999.99", " 5 ", 9.5, 100):
        assert amount.is_valid(canonical) and _accepts(field, _as_json(canonical))
    for refused in ("0", "0.00", "1.001", "1e3", "-1", "+1", "1,000", "0000000000001", 0.0, 1.001, True, None):
        assert not amount.is_valid(refused) and not _accepts(field, _as_json(refused))


def test_a_recipient_id_is_valid_in_the_schema_exactly_when_the_server_accepts_it(schema: dict[str, Any]) -> None:
    user_id = _request(schema, "/api/v1/transfers/")["properties"]["to_user_id"]
    valid = _validator({key: value for key, value in user_id.items() if key != "nullable"})
    field = s.UserIdField()

    @EXAMPLES
    @given(
        st.one_of(
            _drawn(openapi.USER_ID["oneOf"][1]["pattern"]),
            _TEXT,
            st.integers(min_value=-10, max_value=10**20),
            st.floats(allow_nan=False, allow_infinity=False),
            st.booleans(),
        )
    )
    def agree(value: Any) -> None:
        assert valid.is_valid(json.loads(json.dumps(value))) == _accepts(field, _as_json(value)), value

    agree()


def _mobile_syntax_accepted(field: Any, value: Any) -> bool:
    if not _accepts(field, value):
        return False
    try:
        phone.mobile_normalize(field.run_validation(value))
    except WalletError as refusal:
        # Within the syntax only the numbering plans refuse, which no schema states.
        return refusal.message != phone.SYNTAX_MESSAGE
    return True


@pytest.mark.parametrize(
    ("path", "name", "field"),
    [
        ("/api/v1/auth/register/", "mobile_number", s.MobileField()),
        ("/api/v1/transfers/", "to_mobile", s.MobileField(required=False, allow_null=True)),
    ],
)
def test_a_mobile_number_is_valid_in_the_schema_exactly_when_the_server_reads_it(
    schema: dict[str, Any], path: str, name: str, field: Any
) -> None:
    mobile = _request(schema, path)["properties"][name]
    valid = _validator({key: value for key, value in mobile.items() if key != "nullable"})

    @EXAMPLES
    @given(st.one_of(_drawn(openapi.MOBILE["pattern"]), _TEXT, st.integers(), st.text("0123456789", max_size=34)))
    def agree(value: Any) -> None:
        assert valid.is_valid(value) == _mobile_syntax_accepted(field, value), value

    agree()
    for spelling in (
        "+91 98765 43210",
        "(+91) 98765-43210",
        "+44 (0)7400 123456",
        "0171/1234567",
        " 98765 43210\u3000",
    ):
        assert valid.is_valid(spelling) and _mobile_syntax_accepted(field, spelling), spelling
    for refused in ("0" * 31, "12", "9876543210abc", "tel:+919876543210", "+91 98765 43210 ext 5", "+(91) 98765"):
        assert not valid.is_valid(refused) and not _mobile_syntax_accepted(field, refused), refused


def test_a_username_is_valid_in_the_schema_exactly_when_sign_up_accepts_its_form(schema: dict[str, Any]) -> None:
    username = _validator(_request(schema, "/api/v1/auth/register/")["properties"]["username"])
    field = s.UsernameField()

    def server(value: Any) -> bool:
        # The serializer, then user_register's own checks of the form (strip, Django's validator).
        if not _accepts(field, value):
            return False
        try:
            User.username_validator(field.run_validation(value).strip())
        except Exception:
            return False
        return True

    @EXAMPLES
    @given(st.one_of(_TEXT, st.text(alphabet="aé_.@+-ß٣ 漢\u3000\x00!", min_size=1, max_size=12)))
    def agree(value: str) -> None:
        assert username.is_valid(value) == server(value), value

    agree()
    assert username.is_valid(" Ana.María_@+- ") and server(" Ana.María_@+- ")
    assert not username.is_valid("x" * 151) and not server("x" * 151)


def test_passwords_and_sign_in_names_are_described_as_the_serializers_read_them(schema: dict[str, Any]) -> None:
    sign_in = _request(schema, "/api/v1/auth/token/")["properties"]
    sign_up = _request(schema, "/api/v1/auth/register/")["properties"]
    name, password, new_password = (
        _validator(sign_in["username"]),
        _validator(sign_in["password"]),
        _validator(sign_up["password"]),
    )

    @EXAMPLES
    @given(st.one_of(_TEXT, st.text(min_size=140, max_size=160), st.text(min_size=1020, max_size=1030)))
    def agree(value: str) -> None:
        assert name.is_valid(value) == _accepts(s.SignInUsernameField(), value), value
        assert password.is_valid(value) == _accepts(s.PasswordField(), value), value
        # Sign-up also runs Django's password validators, of which only the length is a form.
        assert new_password.is_valid(value) == (_accepts(s.PasswordField(), value) and len(value) >= 8), value

    agree()


def test_the_recipient_is_exactly_one_of_user_id_and_mobile_in_the_schema_as_on_the_server(
    schema: dict[str, Any],
) -> None:
    body = _validator(_request(schema, "/api/v1/transfers/"))
    choices: dict[str, list[Any]] = {"to_user_id": [..., None, 5, "5"], "to_mobile": [..., None, "+91 98765 43210"]}
    for user_id in choices["to_user_id"]:
        for mobile in choices["to_mobile"]:
            request = {"amount": "5", "pin": "4826"}
            request |= {} if user_id is ... else {"to_user_id": user_id}
            request |= {} if mobile is ... else {"to_mobile": mobile}
            named = sum(value not in (..., None) for value in (user_id, mobile))
            assert body.is_valid(request) == (named == 1) == s.TransferRequest(data=request).is_valid(), request


def test_a_pin_is_valid_in_the_schema_exactly_when_the_server_takes_its_form(schema: dict[str, Any]) -> None:
    paying = _validator(_request(schema, "/api/v1/transfers/")["properties"]["pin"])
    new = _validator(_request(schema, "/api/v1/auth/pin/", "put")["properties"]["pin"])

    def server(value: Any, *, new_pin: bool) -> bool:
        # The serializer's field, then the view (blank: pin_required) or the service (weak_pin).
        try:
            pin = s.PinField().run_validation(value)
        except ValidationError:
            return False
        return bool(pin) and not (new_pin and pins.pin_is_weak(pin))

    @EXAMPLES
    @given(
        st.one_of(
            _drawn(openapi.PIN["pattern"]),
            _drawn(openapi.NEW_PIN["pattern"]),
            st.sampled_from(sorted(pins.WEAK_PINS)).map(lambda pin: f" {pin}\u3000"),
            st.text("0123456789", max_size=8),
            _TEXT,
            st.integers(min_value=0, max_value=10**7),
        )
    )
    def agree(value: Any) -> None:
        assert paying.is_valid(value) == server(value, new_pin=False), value
        assert new.is_valid(value) == server(value, new_pin=True), value

    agree()
    for weak in pins.WEAK_PINS:
        assert paying.is_valid(weak) and not new.is_valid(weak), weak
    assert new.is_valid("7890") and new.is_valid(" 482611 ") and not new.is_valid("45678 ")


def test_a_pin_change_names_at_most_one_proof_in_the_schema_as_on_the_server(schema: dict[str, Any]) -> None:
    body = _validator(_request(schema, "/api/v1/auth/pin/", "put"))
    for current in (..., None, "4826"):
        for code in (..., None, "123456"):
            request: dict[str, Any] = {"pin": "5937"}
            request |= {} if current is ... else {"current_pin": current}
            request |= {} if code is ... else {"code": code}
            both = current not in (..., None) and code not in (..., None)
            assert s.PinSetRequest(data=request).is_valid(), request
            assert body.is_valid(request) == (not both), request


def test_a_user_id_in_a_query_is_valid_in_the_schema_exactly_when_the_lookup_reads_it(schema: dict[str, Any]) -> None:
    user_id = _validator(_parameter(schema, "/api/v1/recipients/", "get", "user_id"))

    def server(value: str) -> bool:
        try:
            recipients.user_id_parse(s.UserIdQueryField().run_validation(value))
        except (ValidationError, ValidationFailed):
            return False
        except WalletError:  # a whole number beyond every account: well-formed, and not found
            return True
        return True

    @EXAMPLES
    @given(st.one_of(_drawn(openapi.USER_ID_QUERY["pattern"]), _TEXT, st.integers().map(str)))
    def agree(value: str) -> None:
        assert user_id.is_valid(value) == server(value), value

    agree()


def test_an_idempotency_key_is_valid_in_the_schema_exactly_when_the_server_takes_it(schema: dict[str, Any]) -> None:
    key = _validator(_parameter(schema, "/api/v1/transfers/", "post", "Idempotency-Key"))

    def server(value: str) -> bool:
        try:
            idempotency.key_parse(value)
        except WalletError:
            return False
        return True

    @EXAMPLES
    @given(st.one_of(_TEXT, st.text(min_size=250, max_size=260), _drawn(f"^{idempotency.KEY_PATTERN}$")))
    def agree(value: str) -> None:
        assert key.is_valid(value) == server(value), value

    agree()
    assert key.is_valid("x" * 255) and not key.is_valid("x" * 256)


def test_history_parameters_are_valid_in_the_schema_exactly_when_the_server_takes_them(
    schema: dict[str, Any],
) -> None:
    limit = _validator(_parameter(schema, "/api/v1/transactions/", "get", "limit"))
    cursor = _validator(_parameter(schema, "/api/v1/transactions/", "get", "cursor"))

    def takes(parse: Any, raw: str) -> bool:
        try:
            parse(raw)
        except ValidationError:
            return False
        return True

    @EXAMPLES
    @given(st.integers(min_value=-(10**19), max_value=10**19))
    def limits_agree(value: int) -> None:
        assert limit.is_valid(value) == takes(limit_parse, str(value)), value

    @EXAMPLES
    @given(
        st.one_of(
            _drawn(openapi.CURSOR["pattern"]),
            st.integers(min_value=0, max_value=10**19).map(cursor_encode),
            st.integers(min_value=0, max_value=10**19).map(cursor_encode).map(lambda c: c + "=" * (-len(c) % 4)),
            st.text(alphabet="djE6MNOwxyzAQgTDjz0123456789=-_!", max_size=32),
            _TEXT,
        )
    )
    def cursors_agree(value: str) -> None:
        assert cursor.is_valid(value) == takes(cursor_decode, value), value

    limits_agree()
    cursors_agree()
    assert limit.is_valid(1) and not limit.is_valid(0)


def _statuses(schema: dict[str, Any]) -> dict[str, set[str]]:
    return {
        f"{method.upper()} {path}": set(operation["responses"])
        for path, methods in schema["paths"].items()
        for method, operation in methods.items()
    }


def test_every_operation_documents_every_status_it_answers(schema: dict[str, Any]) -> None:
    # Every operation may answer 503 database_unavailable (a lost database connection).
    body = {"400", "401", "403", "406", "413", "415", "503"}
    money = body | {"201", "409", "422", "429", "503"}
    assert _statuses(schema) == {
        "POST /api/v1/auth/register/": body | {"201", "429"},
        "POST /api/v1/auth/token/": body | {"200", "429"},
        "DELETE /api/v1/auth/token/": {"204", "400", "401", "403", "406", "503"},
        "POST /api/v1/auth/mobile/code/": body | {"202", "409", "429", "503"},
        "GET /api/v1/statements/": {"200", "400", "401", "403", "429", "503"},
        "POST /api/v1/auth/mobile/verify/": body | {"200"},
        "PUT /api/v1/auth/pin/": body | {"200", "423"},
        "POST /api/v1/auth/pin/code/": {"202", "400", "401", "403", "406", "429", "503"},
        "PUT /api/v1/auth/name/": body | {"200"},
        "GET /api/v1/recipients/": {"200", "400", "401", "403", "404", "406", "429", "503"},
        "POST /api/v1/auth/password/": body | {"200", "429"},
        "POST /api/v1/auth/password/reset/": body | {"202", "429"},
        "POST /api/v1/auth/password/reset/confirm/": body | {"200", "429"},
        "GET /api/v1/wallet/": {"200", "400", "401", "403", "406", "503"},
        "POST /api/v1/wallet/top-ups/": money,
        "POST /api/v1/transfers/": money | {"423"},
        "GET /api/v1/transactions/": {"200", "400", "401", "403", "406", "503"},
        "GET /api/v1/transactions/{transaction_id}/": {"200", "400", "401", "403", "404", "406", "503"},
        "POST /api/v1/transactions/{transaction_id}/refund/": money | {"404", "423"},
        "GET /api/v1/requests/": {"200", "400", "401", "403", "406", "503"},
        "POST /api/v1/requests/": body | {"201", "422", "429", "503"},
        "GET /api/v1/requests/{request_id}/": {"200", "400", "401", "403", "404", "406", "503"},
        "POST /api/v1/requests/{request_id}/pay/": money | {"404", "423"},
        "POST /api/v1/requests/{request_id}/decline/": {"200", "400", "401", "403", "404", "406", "409", "503"},
        "POST /api/v1/requests/{request_id}/cancel/": {"200", "400", "401", "403", "404", "406", "409", "503"},
        "GET /api/v1/requests/mutes/": {"200", "400", "401", "403", "406", "503"},
        "POST /api/v1/requests/mutes/": body | {"201", "422"},
        "DELETE /api/v1/requests/mutes/{user_id}/": {"204", "400", "401", "403", "404", "406", "503"},
    }
    transfer = schema["paths"]["/api/v1/transfers/"]["post"]["responses"]
    assert transfer["429"]["headers"]["Retry-After"]["required"] is True
    assert transfer["423"]["headers"]["Retry-After"]["required"] is True
    assert schema["paths"]["/api/v1/auth/pin/"]["put"]["responses"]["423"]["headers"]["Retry-After"]["required"]
    assert transfer["401"]["headers"]["WWW-Authenticate"]["required"] is True
    assert "Idempotent-Replayed" in transfer["201"]["headers"]
    assert "database_unavailable" in transfer["503"]["description"]


def test_history_filters_are_valid_in_the_schema_exactly_when_the_server_reads_them(schema: dict[str, Any]) -> None:
    def server(name: str, value: str) -> bool:
        try:
            history.history_query_parse({name: value})
        except InvalidFilter:
            return False
        return True

    def agree_on(name: str, values: st.SearchStrategy[str]) -> None:
        validator = _validator(_parameter(schema, "/api/v1/transactions/", "get", name))

        @EXAMPLES
        @given(values)
        def agree(value: str) -> None:
            assert validator.is_valid(value) == server(name, value), (name, value)

        agree()

    pattern = openapi.HISTORY_DATE["pattern"]
    days = st.dates().map(date.isoformat)
    near_days = st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
    for name in ("since", "until"):
        agree_on(name, st.one_of(days, near_days, _drawn(pattern), _TEXT))
    agree_on("counterparty", st.one_of(st.integers(min_value=-5, max_value=10**20).map(str), _TEXT))
    for name, values in (("direction", history.DIRECTIONS), ("type", history.TYPES), ("status", history.STATUSES)):
        agree_on(name, st.one_of(st.sampled_from(values), st.sampled_from(values).map(str.lower), _TEXT))
    for name in ("min_amount", "max_amount"):
        agree_on(name, st.one_of(_drawn(openapi.HISTORY_AMOUNT["pattern"]), st.decimals(places=3).map(str), _TEXT))
    agree_on("q", st.one_of(_TEXT, st.text(min_size=149, max_size=152)))
    # Every day of four years, leap and not, and a century that is not a leap year, agree one by one.
    since = _validator(_parameter(schema, "/api/v1/transactions/", "get", "since"))
    for year in (1900, 2000, 2024, 2026):
        for month in range(1, 13):
            for day in range(1, 32):
                value = f"{year}-{month:02}-{day:02}"
                assert since.is_valid(value) == server("since", value), value
    assert not since.is_valid("0000-02-29") and not server("since", "0000-02-29")
