"""Opaque keyset cursors for the history: ``limit`` (default 20, at most 100) and ``cursor``.

A cursor encodes the id of the last entry served; the next page is the
entries below it, so rows that arrive meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii

from rest_framework.exceptions import ValidationError

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_PREFIX = "v1:"
BIGINT_MAX = 2**63 - 1


def cursor_encode(before_id: int) -> str:
    return base64.urlsafe_b64encode(f"{_PREFIX}{before_id}".encode()).decode().rstrip("=")


def cursor_decode(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        text = ""
    number = text.removeprefix(_PREFIX)
    if (
        len(cursor) > 40
        or not text.startswith(_PREFIX)
        or not (number.isascii() and number.isdigit())
        or int(number) > BIGINT_MAX
    ):
        raise ValidationError({"cursor": ["Not a cursor from this API; use next_cursor as given."]})
    return int(number)


def limit_parse(raw: str | None) -> int:
    """Missing: 20. Above 100: 100. Not a positive whole number: 400."""
    if raw is None:
        return DEFAULT_LIMIT
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 18 or int(raw) < 1:
        raise ValidationError({"limit": [f"A whole number from 1 to {MAX_LIMIT}."]})
    return min(int(raw), MAX_LIMIT)
