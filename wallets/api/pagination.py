"""Opaque keyset cursors for the history: ``limit`` (default 20, at most 100) and ``cursor``.

A cursor encodes the id of the last entry served; the next page is the
entries below it, so rows that arrive meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import re

from rest_framework.exceptions import ValidationError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# A limit is a whole number of at most this many digits; above MAX_LIMIT it is served as MAX_LIMIT.
LIMIT_MAX_DIGITS = 18
_PREFIX = "v1:"
BIGINT_MAX = 2**63 - 1

# Exactly the cursors cursor_encode makes for ids of 1 to 18 digits (an id of 19 digits would take
# 10**18 rows): unpadded base64url of "v1:<digits>". "v1:" is "djE6"; each three digits (bytes
# 0x30-0x39) are four characters, a last one or two digits two or three. Within a group the first
# digit's high bits pick M/N/O and bound the next character (8 and 9 allow only D or T, A or Q).
# The OpenAPI schema states this pattern, so it covers every cursor the server accepts.
_FIRST = "(?:M[DTjz]|N[DTjz]|O[DT])"
_THREE_DIGITS = f"{_FIRST}[AEIMQUYcgk][w-z0-5]"
_TWO_DIGITS = f"{_FIRST}[AEIMQUYcgk]"
_ONE_DIGIT = "(?:M[AQgw]|N[AQgw]|O[AQ])"
CURSOR_PATTERN = f"djE6(?:{_THREE_DIGITS}){{0,5}}(?:{_THREE_DIGITS}|{_TWO_DIGITS}|{_ONE_DIGIT})"
_CURSOR = re.compile(CURSOR_PATTERN)


def cursor_encode(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{before_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not _CURSOR.fullmatch(cursor):
        raise ValidationError({"cursor": ["Not a cursor from this API; use next_cursor as given."]})
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    return int(text.removeprefix(_PREFIX))


def limit_parse(raw: str | None) -> int:
    """Missing: 20. Above 100: 100. Not a positive whole number: 400."""
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or len(raw) > LIMIT_MAX_DIGITS or int(raw) < 1:
        raise ValidationError({"limit": [f"A whole number from 1 to {MAX_LIMIT}."]})
    return min(int(raw), MAX_LIMIT)
