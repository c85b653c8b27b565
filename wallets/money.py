"""Money: the one place for precision, parsing and formatting of amounts.

Amounts are ``Decimal`` with two places end to end and travel as strings
("12.50"). Floats are never accepted: a value that already went through
binary floating point may not be the amount the person typed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum

from wallets.errors import InvalidAmount

DECIMAL_PLACES = 2
INTEGER_DIGITS = 12
MAX_DIGITS = INTEGER_DIGITS + DECIMAL_PLACES
ZERO = Decimal("0.00")
CENT = Decimal("0.01")

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


def money_format(amount: Decimal, currency: str | None = None) -> str:
    """``Decimal("1234.5")`` -> ``"INR 1,234.50"``."""
    return f"{currency or settings.PAYLANE_CURRENCY} {amount.quantize(CENT):,}"


def money_str(amount: Decimal) -> str:
    """The wire form of an amount: exactly two decimals, no grouping."""
    return f"{amount.quantize(CENT):f}"


class MoneySum(Sum):
    """``Sum`` of a money column, exact on every backend.

    SQLite stores decimals as floating point and sums them in floating point
    (``5008.04000000001``); there the sum runs over whole cents as integers
    and becomes a Decimal again here. PostgreSQL's numeric sum is exact as it is.
    """

    def as_sqlite(self, compiler: Any, connection: Any, **extra_context: Any) -> Any:
        template = f"SUM(CAST(ROUND(%(expressions)s * {10**DECIMAL_PLACES}) AS INTEGER))"
        return super().as_sql(compiler, connection, template=template, **extra_context)

    @property
    def convert_value(self) -> Callable[[Any, Any, Any], Decimal | None]:  # type: ignore[override]
        def convert(value: Any, expression: Any, connection: Any) -> Decimal | None:
            if value is None:
                return None
            amount = Decimal(value)
            if connection.vendor == "sqlite":
                amount = amount.scaleb(-DECIMAL_PLACES)
            return amount.quantize(CENT)

        return convert
