"""Reads the websocket needs: the user's state at connect, replay pages, the current version.

Each is one synchronous read; the consumer calls them through
``database_sync_to_async`` so the event loop never waits on the database.
"""

from __future__ import annotations

from wallets import selectors as wallet_selectors
from wallets.models import Wallet
from wallets.money import ZERO, money_str

from realtime.events import HelloFrame, PongFrame, TransactionFrame, party_figures, transaction_frame


def hello_for_user(*, user_id: int) -> HelloFrame:
    """The ``hello`` frame: balance, version and last seq all from the user's latest ledger entry.

    Taken from one row, so the three always agree even while transfers commit
    (a wallet read followed by a ledger read could straddle a commit).
    """
    latest = wallet_selectors.transactions_for_user(user_id=user_id).select_related(None).first()
    balance, version = party_figures(latest, user_id) if latest else (money_str(ZERO), 0)
    return {
        "type": "hello",
        "user_id": user_id,
        "balance": balance,
        "version": version,
        "last_seq": latest.pk if latest else 0,
        "remaining_today": remaining_today_for_user(user_id=user_id),
    }


def replay_page(*, user_id: int, after_seq: int, limit: int) -> list[TransactionFrame]:
    """Up to ``limit`` of the user's entries with seq > ``after_seq``, oldest first, as frames."""
    entries = wallet_selectors.transactions_for_user(user_id=user_id).filter(pk__gt=after_seq).order_by("pk")[:limit]
    return [transaction_frame(entry, user_id) for entry in entries]


def remaining_today_for_user(*, user_id: int) -> str:
    wallet = Wallet.objects.get(user_id=user_id)
    return money_str(wallet_selectors.wallet_remaining_today(wallet=wallet))


def pong_for_user(*, user_id: int) -> PongFrame:
    """The ``pong`` frame: the wallet's current version (and, extra, the remaining daily limit)."""
    wallet = Wallet.objects.get(user_id=user_id)
    return {
        "type": "pong",
        "version": wallet.version,
        "remaining_today": money_str(wallet_selectors.wallet_remaining_today(wallet=wallet)),
    }
