"""Reads the websocket needs: the user's state at connect, replay pages, the current version.

Each is one synchronous read; the consumer calls them through
``database_sync_to_async`` so the event loop never waits on the database.
They share nothing with other code on their thread, so ``any_thread`` runs
them on any thread of the executor, each on a connection from the pool: a
burst of handshakes reads in parallel instead of queueing behind Django's one
thread-sensitive thread.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.db import close_old_connections
from django.db.models import OuterRef, QuerySet

from ledger.money import money_str
from ledger.selectors import entries_visible_to, last_visible_ids
from ledger.statements import Statement
from realtime.events import HelloFrame, PongFrame, TransactionFrame, transaction_frame
from wallets import selectors as wallet_selectors
from wallets.accounts.credentials import Credential, credential_is_valid
from wallets.models import Wallet
from wallets.request_selectors import entries_requests_attach


def any_thread[T](read: Callable[..., T]) -> Callable[..., Awaitable[T]]:
    """``read`` as a coroutine function running on any executor thread (``thread_sensitive=False``).

    The connection goes back to the pool as ``read`` returns, on its own thread
    and context: the close that ``database_sync_to_async`` adds around the call
    was seen to leave the connection checked out of the pool here.
    """

    def run(*args: Any, **kwargs: Any) -> T:
        try:
            return read(*args, **kwargs)
        finally:
            close_old_connections()

    return database_sync_to_async(run, thread_sensitive=False)


def _hello_query(user: int) -> QuerySet[Wallet, Any]:
    last_sent, last_received = last_visible_ids(OuterRef("user_id"))
    return (
        Wallet.objects.filter(user_id=user)
        .annotate(last_sent=last_sent, last_received=last_received)
        .values_list("balance", "version", "spent_on", "spent_today", "daily_limit", "last_sent", "last_received")
    )


# Every handshake runs it: compiled once per database alias (ledger/statements.py).
_HELLO = Statement(_hello_query, user=-1)


def hello_for_user(*, user_id: int) -> HelloFrame:
    """The ``hello`` frame: balance, version, last seq and the limit left today, in one statement.

    One statement is one snapshot, so the wallet's figures and the last seq
    always agree even while transfers commit (two reads could straddle a
    commit). Every balance change appends a ledger row under the wallet's lock,
    so the wallet's balance and version are those after the user's last entry.
    The last seq is the newer of the user's last sent entry (any status) and
    last received SUCCESS entry, each one step down its (party, id) index.
    """
    rows = _HELLO.rows(user=user_id)
    if not rows:
        raise Wallet.DoesNotExist(f"user {user_id} has no wallet")
    (row,) = rows
    balance, version, spent_on, spent_today, daily_limit, last_sent, last_received = row
    wallet = Wallet(spent_on=spent_on, spent_today=spent_today, daily_limit=daily_limit)
    return {
        "type": "hello",
        "user_id": user_id,
        "balance": money_str(balance),
        "version": version,
        "last_seq": max(last_sent or 0, last_received or 0),
        "remaining_today": money_str(wallet_selectors.wallet_remaining_today(wallet=wallet)),
    }


def hello_if_valid(*, user_id: int, credential: Credential) -> HelloFrame | None:
    """``hello_for_user``, or None if ``credential`` no longer authenticates the user (checked first)."""
    if not credential_is_valid(user_id=user_id, credential=credential):
        return None
    return hello_for_user(user_id=user_id)


def replay_page(*, user_id: int, after_seq: int, limit: int) -> list[TransactionFrame]:
    """Up to ``limit`` of the entries the user may see with seq > ``after_seq``, oldest first, as frames."""
    entries = entries_visible_to(user_id=user_id, after_id=after_seq, limit=limit, oldest_first=True)
    entries_requests_attach(entries)
    return [transaction_frame(entry, user_id) for entry in entries]


def remaining_today_for_user(*, user_id: int) -> str:
    wallet = Wallet.objects.get(user_id=user_id)
    return money_str(wallet_selectors.wallet_remaining_today(wallet=wallet))


def pong_if_valid(*, user_id: int, credential: Credential) -> PongFrame | None:
    """``pong_for_user``, or None if ``credential`` no longer authenticates the user (checked first)."""
    if not credential_is_valid(user_id=user_id, credential=credential):
        return None
    return pong_for_user(user_id=user_id)


def pong_for_user(*, user_id: int) -> PongFrame:
    """The ``pong`` frame: the wallet's current version (and, extra, the remaining daily limit)."""
    wallet = Wallet.objects.get(user_id=user_id)
    return {
        "type": "pong",
        "version": wallet.version,
        "remaining_today": money_str(wallet_selectors.wallet_remaining_today(wallet=wallet)),
    }
