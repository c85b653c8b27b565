"""Reads the websocket needs: the user's state at connect, replay pages, the current version.

Each is one synchronous read; the consumer calls them through
``database_sync_to_async`` so the event loop never waits on the database.
"""

from __future__ import annotations

from django.db import connection

from ledger.models import Transaction
from realtime.events import HelloFrame, PongFrame, TransactionFrame, party_figures, transaction_frame
from wallets import selectors as wallet_selectors
from wallets.models import Wallet
from wallets.money import ZERO, money_str


def hello_for_user(*, user_id: int) -> HelloFrame:
    """The ``hello`` frame: balance, version and last seq all from the user's latest ledger entry.

    Taken from one row, so the three always agree even while transfers commit
    (a wallet read followed by a ledger read could straddle a commit).
    """
    latest = next(iter(_entries_of(user_id=user_id, newest_first=True, limit=1)), None)
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
    entries = _entries_of(user_id=user_id, after_seq=after_seq, limit=limit)
    return [transaction_frame(entry, user_id) for entry in entries]


def _entries_of(*, user_id: int, limit: int, after_seq: int = 0, newest_first: bool = False) -> list[Transaction]:
    """The rows of ``wallets.selectors.transactions_for_user`` after ``after_seq``, ``limit`` at most.

    Its ``sender = u OR (receiver = u AND SUCCESS)`` with ORDER BY id and LIMIT
    lets PostgreSQL walk the primary key and filter, which for a quiet user in a
    large ledger reads most of the table. Here each side is a range scan of its
    (party, id) index, combined in ONE statement: two statements would see two
    snapshots, and an entry committed between them could be skipped for good.
    """
    table = connection.ops.quote_name(Transaction._meta.db_table)
    direction = "DESC" if newest_first else "ASC"
    sql = (
        f"SELECT id FROM (SELECT id FROM {table} WHERE sender_id = %s AND id > %s ORDER BY id {direction} LIMIT %s) s"
        f" UNION ALL SELECT id FROM (SELECT id FROM {table} WHERE receiver_id = %s AND status = %s AND id > %s"
        f" ORDER BY id {direction} LIMIT %s) r ORDER BY id {direction} LIMIT %s"
    )
    params: list[int | str] = [user_id, after_seq, limit, user_id, Transaction.Status.SUCCESS, after_seq, limit, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [row[0] for row in cursor.fetchall()]
    if not ids:
        return []
    entries = Transaction.objects.select_related("sender", "receiver").in_bulk(ids)
    return [entries[pk] for pk in ids]


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
