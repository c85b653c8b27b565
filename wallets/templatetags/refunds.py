"""``{% if tx|refund_offered:user %}``: whether a history row shows the Refund button (no query)."""

from __future__ import annotations

from django import template

from ledger.models import Transaction
from wallets import refunds
from wallets.models import User

register = template.Library()


@register.filter
def refund_offered(entry: Transaction, user: User) -> bool:
    return refunds.refund_is_offered(entry=entry, user_id=user.pk)
