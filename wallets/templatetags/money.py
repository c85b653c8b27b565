from __future__ import annotations

from decimal import Decimal

from django import template

from ledger.money import money_format

register = template.Library()


@register.filter(name="money")
def money(amount: Decimal | None, currency: str | None = None) -> str:
    """``{{ wallet.balance|money }}`` -> ``INR 1,234.50``."""
    return "" if amount is None else money_format(amount, currency)
