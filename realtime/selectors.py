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
from wallets.accounts.credentials import (
    Credential,
    check_columns,
    credential_is_valid,
    session_check_passes,
    token_check_passes,
)
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


_HELLO_COLUMNS = ("balance", "version", "spent_on", "spent_today", "daily_limit", "last_sent", "last_received")


def _hello_query(user: int, *check: Any) -> QuerySet[Wallet, Any]:
    last_sent, last_received = last_visible_ids(OuterRef("user_id"))
    return (
        Wallet.objects.filter(user_id=user)
        .annotate(last_sent=last_sent, last_received=last_received)
        .values_list(*_HELLO_COLUMNS, *check)
    )


# Every handshake runs one of them: compiled once per database alias (ledger/statements.py).
_HELLO = Statement(_hello_query, user=-1)
# The hello with the credential's check as extra columns (``credentials.check_columns``).
_HELLO_IF_TOKEN = Statement(
    lambda user, key: _hello_query(user, *check_columns("token", key, OuterRef("user_id"))),
    user=-1,
    key="\x00stand-in digest",
)
_HELLO_IF_SESSION = Statement(
    lambda user, key: _hello_query(user, *check_columns("session", key, OuterRef("user_id"))),
    user=-1,
    key="\x00stand-in session key",
)


def _hello_frame(user_id: int, row: list[Any]) -> HelloFrame:
    balance, version, spent_on, spent_today, daily_limit, last_sent, last_received = row[: len(_HELLO_COLUMNS)]
    wallet = Wallet(spent_on=spent_on, spent_today=spent_today, daily_limit=daily_limit)
    return {
        "type": "hello",
        "user_id": user_id,
        "balance": money_str(balance),
        "version": version,
        "last_seq": max(last_sent or 0, last_received or 0),
        "remaining_today": money_str(wallet_selectors.wallet_remaining_today(wallet=wallet)),
    }


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
    return _hello_frame(user_id, row)


def hello_if_valid(*, user_id: int, credential: Credential) -> HelloFrame | None:
    """``hello_for_user``, or None if ``credential`` no longer authenticates the user.

    One statement on the handshake's path: the hello's read with the
    credential's check (``credential_is_valid``'s reads, decided the same way)
    as extra columns, so both come from one snapshot. It runs after the socket
    joined its group, so a revocation committed before it is seen. A user
    without a wallet falls back to the check on its own (the statement then
    has no row to carry it), so such a user's revoked credential still gives
    None, not an error.
    """
    statement = _HELLO_IF_TOKEN if credential.kind == "token" else _HELLO_IF_SESSION
    rows = statement.rows(user=user_id, key=credential.key)
    if not rows:
        if not credential_is_valid(user_id=user_id, credential=credential):
            return None
        raise Wallet.DoesNotExist(f"user {user_id} has no wallet")
    (row,) = rows
    check = row[len(_HELLO_COLUMNS) :]
    if credential.kind == "token":
        found, expiry, is_active = check
        valid = token_check_passes(found=found, expiry=expiry, is_active=is_active)
    else:
        valid = session_check_passes(user_id, *check)
    return _hello_frame(user_id, row) if valid else None


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
