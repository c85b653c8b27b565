"""Money's precision and its helpers: the one place both the ledger and the wallets take them from.

Amounts are ``Decimal`` with two places end to end and travel as strings
("12.50"). Parsing what a person typed lives with the wallets
(``wallets.money.amount_parse``): it refuses input with the wallets' errors.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum

DECIMAL_PLACES = 2
INTEGER_DIGITS = 12
MAX_DIGITS = INTEGER_DIGITS + DECIMAL_PLACES
ZERO = Decimal("0.00")
CENT = Decimal("0.01")


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
