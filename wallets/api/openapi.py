"""What the OpenAPI schema says about each input: the server's own rules, spelled in JSON Schema.

A pattern here accepts exactly the values the server accepts for their form, so a client
generated from the schema sends nothing the server refuses for its shape, and schemathesis'
negative checks (a schema-invalid request must be refused) agree with the server. What no
schema can state is left to descriptions: state (a taken username, a balance) and rule sets
(password validators, numbering plans). ``tests/wallets/api/test_openapi.py`` holds each
pattern against the server's own parser; ``test_schemathesis.py`` holds the whole schema
against the live server.

Patterns are ECMA-262 as JSON Schema reads them, each anchored with ``^`` and ``$``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter

from ledger.money import CENT, DECIMAL_PLACES, INTEGER_DIGITS
from wallets import history, idempotency, money, notes, phone
from wallets.accounts import pins
from wallets.api import pagination
from wallets.statements import period as statement_period

# The characters str.isspace() calls whitespace: what str.strip() and DRF's trim_whitespace
# remove around text fields. Spelled out because ECMA's \s is a different set.
SPACE = r"[\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
# DRF's CharField refuses NUL characters.
NOT_NUL = r"[^\x00]"
NOT_NUL_OR_SPACE = r"[^\x00\t-\r\x1c-\x20\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

USER_ID_MAX_DIGITS = 19


def trimmed(core: str) -> str:
    """A text field the server strips before it checks ``core``."""
    return f"^{SPACE}*{core}{SPACE}*$"


AMOUNT_MAX = Decimal(10**INTEGER_DIGITS) - CENT

AMOUNT: dict[str, Any] = {
    "oneOf": [
        {
            "type": "string",
            # The lookahead asks for a non-zero digit: the amount is greater than zero.
            "pattern": trimmed(rf"(?=[0-9.]*[1-9]){money.AMOUNT_PATTERN}"),
            "example": "250.50",
        },
        {
            "type": "number",
            "minimum": float(CENT),
            "maximum": float(AMOUNT_MAX),
            "multipleOf": float(CENT),
            "example": 250.5,
        },
    ],
    "description": f"Greater than zero, at most {INTEGER_DIGITS} digits before the point and "
    f'{DECIMAL_PLACES} after it. The string is the canonical form ("250.50"); a JSON number '
    "(250.5) is accepted too, read as a decimal, never as a float, and written without an exponent.",
}

USER_ID: dict[str, Any] = {
    "oneOf": [
        {"type": "integer", "minimum": 0, "maximum": 10**USER_ID_MAX_DIGITS - 1},
        {"type": "string", "pattern": trimmed(f"[0-9]{{1,{USER_ID_MAX_DIGITS}}}")},
    ],
    "description": 'A user id: a whole number, or a string of digits ("42").',
}

MOBILE: dict[str, Any] = {
    "type": "string",
    # The lookahead: at most 32 characters once stripped.
    "pattern": rf"^{SPACE}*(?=[(+0-9 ./\-)]{{1,{phone.MOBILE_MAX_LENGTH}}}{SPACE}*$){phone.MOBILE_SYNTAX}{SPACE}*$",
    "example": "+91 98765 43210",
    "description": "E.164 (+919876543210) or a national number read in the service's region "
    "(PAYLANE_PHONE_REGION): an optional ( and +, then 3 to 17 digits with at most two separators "
    "(space . / - parentheses) between two digits, an optional closing ), at most 32 characters. "
    "It must also be a number libphonenumber knows (`400 validation_error` otherwise).",
}

# Django's username rules (UnicodeUsernameValidator, max_length 150): \w is Unicode in Python.
USERNAME: dict[str, Any] = {
    "type": "string",
    "pattern": trimmed(r"[\p{L}\p{N}_.@+-]{1,150}"),
    "example": "alice",
    "description": "Letters, digits and @ . + - _ , at most 150; unique in any case.",
}

SIGN_IN_USERNAME: dict[str, Any] = {
    "type": "string",
    "pattern": f"^{SPACE}*{NOT_NUL_OR_SPACE}(?:{NOT_NUL}{{0,148}}{NOT_NUL_OR_SPACE})?{SPACE}*$",
    "example": "alice",
}


NOTE: dict[str, Any] = {
    "type": "string",
    "pattern": f"^[^{notes.FORBIDDEN}]{{0,{notes.NOTE_MAX_LENGTH}}}$",
    "example": "rent, November",
    "description": f"What the payment is for: at most {notes.NOTE_MAX_LENGTH} characters, no control "
    "characters or bidirectional overrides. Stored without the spaces around it; null, or only spaces, "
    "is no note.",
}


def password(*, min_length: int) -> dict[str, Any]:
    return {
        "type": "string",
        "format": "password",
        "minLength": min_length,
        "maxLength": 1024,
        "pattern": f"^{NOT_NUL}*$",
    }


IDEMPOTENCY_KEY: dict[str, Any] = {
    "type": "string",
    "pattern": f"^{idempotency.KEY_PATTERN}$",
    "example": "7f1c2d7e-pay-1",
}

LIMIT: dict[str, Any] = {
    "type": "integer",
    "minimum": 1,
    "maximum": 10**pagination.LIMIT_MAX_DIGITS - 1,
    "default": pagination.DEFAULT_LIMIT,
}

CURSOR: dict[str, Any] = {"type": "string", "pattern": f"^{pagination.CURSOR_PATTERN}$"}

TRANSACTION_ID: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": pagination.BIGINT_MAX}

CODE: dict[str, Any] = {
    "type": "string",
    "pattern": trimmed("[0-9]{6}"),
    "example": "123456",
    "description": "The six digits of the last code sent by SMS.",
}

NAME: dict[str, Any] = {
    "type": "string",
    "pattern": trimmed(f"{NOT_NUL}{{0,150}}"),
    "example": "Asha",
    "description": "Part of the display name a payer sees, masked, before paying (at most 150 characters).",
}

MONEY_OUT: dict[str, Any] = {"type": "string", "pattern": r"^[0-9]+\.[0-9]{2}$", "example": "1000.00"}

PIN: dict[str, Any] = {
    "type": "string",
    "format": "password",
    "pattern": trimmed(f"[0-9]{{{pins.PIN_MIN_DIGITS},{pins.PIN_MAX_DIGITS}}}"),
    "example": "4826",
    "description": f"The payment PIN: {pins.PIN_MIN_DIGITS} to {pins.PIN_MAX_DIGITS} digits.",
}

# A new PIN: the same form, and none of the trivial ones (every one listed: a negative lookahead).
NEW_PIN: dict[str, Any] = {
    **PIN,
    "pattern": f"^{SPACE}*(?!(?:{'|'.join(sorted(pins.WEAK_PINS))}){SPACE}*$)"
    f"[0-9]{{{pins.PIN_MIN_DIGITS},{pins.PIN_MAX_DIGITS}}}{SPACE}*$",
    "example": "4826",
    "description": f"{pins.PIN_MIN_DIGITS} to {pins.PIN_MAX_DIGITS} digits, not one digit repeated and not a "
    "run up or down such as 1234 or 9876 (`400 weak_pin`).",
}

# A user id in a query string: text, the digits alone.
USER_ID_QUERY: dict[str, Any] = {
    "type": "string",
    "pattern": trimmed(f"[0-9]{{1,{USER_ID_MAX_DIGITS}}}"),
    "example": "7",
}


# --- History filters (GET /api/v1/transactions/): the patterns wallets/history.py reads with ----------

HISTORY_DATE: dict[str, Any] = {
    "type": "string",
    "format": "date",
    "pattern": f"^{history.DATE_PATTERN}$",
    "example": "2026-11-30",
}

HISTORY_AMOUNT: dict[str, Any] = {
    "type": "string",
    "pattern": AMOUNT["oneOf"][0]["pattern"],
    "example": "100.00",
}


def _filter(name: str, schema: dict[str, Any], description: str) -> OpenApiParameter:
    return OpenApiParameter(name, schema, OpenApiParameter.QUERY, description=description)


HISTORY_FILTERS = [
    _filter("since", HISTORY_DATE, "Entries made on or after this day (TIME_ZONE), YYYY-MM-DD."),
    _filter(
        "until",
        HISTORY_DATE,
        "Entries made on or before this day (TIME_ZONE, the whole day), YYYY-MM-DD; "
        "not before since (`400 invalid_filter`).",
    ),
    _filter(
        "counterparty",
        {"type": "string", "pattern": f"^{history.COUNTERPARTY_PATTERN}$", "example": "7"},
        "The other party's user id: payments to them and from them.",
    ),
    _filter(
        "direction",
        {"type": "string", "enum": list(history.DIRECTIONS)},
        "in: entries that paid the caller (top-ups included); out: entries the caller sent (refused ones included).",
    ),
    _filter("type", {"type": "string", "enum": list(history.TYPES)}, "The entry's type."),
    _filter(
        "status",
        {"type": "string", "enum": list(history.STATUSES)},
        "The entry's status (FAILED attempts are the sender's only).",
    ),
    _filter("min_amount", HISTORY_AMOUNT, "Amount at least this (inclusive)."),
    _filter(
        "max_amount", HISTORY_AMOUNT, "Amount at most this (inclusive); not below min_amount (`400 invalid_filter`)."
    ),
    _filter(
        "q",
        {
            "type": "string",
            "pattern": f"^[^{notes.FORBIDDEN}]{{1,{history.Q_MAX_LENGTH}}}$",
            "example": "rent",
        },
        "Text in the note or the other party's username, any case (spaces around it are ignored; "
        "only spaces: no filter).",
    ),
]

# A statement's period (wallets/statements/period.py): a calendar day, in the service's TIME_ZONE.
STATEMENT_DAY: dict[str, Any] = {"type": "string", "pattern": f"^{statement_period.DATE_PATTERN}$"}
STATEMENT_FORMAT: dict[str, Any] = {"type": "string", "enum": list(statement_period.FORMATS), "default": "csv"}
