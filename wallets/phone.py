"""Mobile numbers: normalised to E.164 with ``phonenumbers``.

Two steps. The syntax is this service's own and exact, so the OpenAPI schema
can state it (``wallets/api/openapi.py`` builds its pattern from the constants
below): after surrounding whitespace is stripped, an optional ``(`` and ``+``,
then 3 to 17 digits with at most two separators (space . / - parentheses)
between two digits and an optional closing ``)``, at most 32 characters in all.
Whether the digits are a number some country assigns is libphonenumber's
numbering plans, which no pattern can state.
"""

from __future__ import annotations

import re

import phonenumbers
from django.conf import settings

from wallets.errors import InvalidMobile

MOBILE_MAX_LENGTH = 32
MOBILE_MIN_DIGITS = 3
# libphonenumber's own bound on a national number (it refuses longer ones as TOO_LONG).
MOBILE_MAX_DIGITS = 17
# On stripped text: "(+91) 98765-43210", "+44 (0)7400 123456", "+91.98765.43210", "0171/1234567".
# Regular, without lookarounds, so that schema-driven generators can draw from it quickly.
MOBILE_SYNTAX = rf"\(?\+?[0-9](?:[ ()./\-]{{0,2}}[0-9]){{{MOBILE_MIN_DIGITS - 1},{MOBILE_MAX_DIGITS - 1}}}\)?"
_SYNTAX = re.compile(MOBILE_SYNTAX)

SYNTAX_MESSAGE = "Enter a mobile number, such as 98765 43210 or +91 98765 43210."
NOT_A_NUMBER_MESSAGE = "That does not look like a phone number."
NOT_ASSIGNED_MESSAGE = "That is not a valid mobile number."


def mobile_normalize(raw: str, *, region: str | None = None) -> str:
    """``"98765 43210"`` -> ``"+919876543210"`` (default region from ``PAYLANE_PHONE_REGION``)."""
    text = (raw or "").strip()
    if len(text) > MOBILE_MAX_LENGTH or not _SYNTAX.fullmatch(text):
        raise InvalidMobile(SYNTAX_MESSAGE)
    try:
        number = phonenumbers.parse(text, region or settings.PAYLANE_PHONE_REGION)
    except phonenumbers.NumberParseException:
        # Within the syntax, only the plans refuse: an unknown country code, a number too short for its country.
        raise InvalidMobile(NOT_A_NUMBER_MESSAGE) from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidMobile(NOT_ASSIGNED_MESSAGE)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
