"""The daily limit's counter: what a wallet has sent on a given day. One rule, read by everyone.

A wallet keeps one counter, ``spent_today`` for the day ``spent_on``: a
transfer on a later day starts it again from zero. So what a wallet has spent
on ``day`` is the counter when ``spent_on`` is that day, and nothing otherwise.
The transfer service, the dashboard, the API, the websocket and the audit all
ask this module, never ``spent_on`` themselves.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.utils import timezone

from ledger.money import ZERO
from wallets.models import Wallet


def spent_on_day(wallet: Wallet, day: date) -> Decimal:
    """Successful outgoing transfers of ``wallet`` on the local calendar day ``day``."""
    return wallet.spent_today if wallet.spent_on == day else ZERO


def remaining_on_day(wallet: Wallet, day: date) -> Decimal:
    """What ``wallet`` may still send on ``day``: its limit less what it spent (never below zero)."""
    return max(wallet.effective_daily_limit - spent_on_day(wallet, day), ZERO)


def today() -> date:
    """The calendar day of the daily limit now (``TIME_ZONE``)."""
    return timezone.localdate()
