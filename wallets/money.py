"""Parsing amounts that people and programs send: the one parser of the pages, the API and the services.

Amounts are ``Decimal`` with two places end to end and travel as strings
("12.50"). Floats are never accepted: a value that already went through
binary floating point may not be the amount the person typed. Precision and
formatting live with the ledger (``ledger.money``).
"""

from __future__ import annotations

import re
from decimal import Decimal

from ledger.money import CENT, DECIMAL_PLACES, INTEGER_DIGITS, ZERO
from wallets.errors import InvalidAmount

# Digits, an optional point and at most two decimals. Signs, exponents,
# NaN, Infinity, grouping commas and whitespace inside the number all fail it.
AMOUNT_PATTERN = rf"[0-9]{{1,{INTEGER_DIGITS}}}(?:\.[0-9]{{1,{DECIMAL_PLACES}}})?"
_AMOUNT = re.compile(AMOUNT_PATTERN)


def amount_parse(value: object) -> Decimal:
    """Turn user input (str, int or Decimal) into a positive two-place Decimal.

    Raises ``InvalidAmount`` with a message a person can act on.
    """
    if isinstance(value, bool) or isinstance(value, float):
        raise InvalidAmount('Send the amount as a string such as "250.50", not a floating-point number.')
    if isinstance(value, (int, Decimal)):
        text = str(value)
    elif isinstance(value, str):
        text = value.strip()
    else:
        raise InvalidAmount("Enter an amount such as 250 or 250.50.")
    if not text:
        raise InvalidAmount("Enter an amount.")
    if not _AMOUNT.fullmatch(text):
        raise InvalidAmount(_why_not(text))
    amount = Decimal(text).quantize(CENT)
    if amount <= ZERO:
        raise InvalidAmount("The amount must be greater than zero.")
    return amount


def _why_not(text: str) -> str:
    if text.startswith("-"):
        return "The amount must be greater than zero."
    integer, _, decimals = text.lstrip("+").partition(".")
    if (
        integer.isascii()
        and integer.isdigit()
        and decimals.isascii()
        and decimals.isdigit()
        and len(decimals) > DECIMAL_PLACES
    ):
        return f"Use at most {DECIMAL_PLACES} decimal places."
    if integer.isascii() and integer.isdigit() and len(integer.lstrip("0")) > INTEGER_DIGITS:
        return f"The amount is too large (at most {INTEGER_DIGITS} digits before the decimal point)."
    return "Enter an amount such as 250 or 250.50 (digits and an optional decimal point only)."
