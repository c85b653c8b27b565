"""Reads of wallets and history."""

from __future__ import annotations

from decimal import Decimal

from django.db import DEFAULT_DB_ALIAS, connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from rest_framework.authtoken.models import Token

from ledger.models import Transaction
from wallets.models import User, Wallet
from wallets.money import ZERO
from wallets.statements import Statement


def wallet_for_user(*, user: User) -> Wallet:
    return Wallet.objects.select_related("user", "user__profile").get(user=user)


def wallet_spent_today(*, wallet: Wallet) -> Decimal:
    return wallet.spent_today if wallet.spent_on == timezone.localdate() else ZERO


def wallet_remaining_today(*, wallet: Wallet) -> Decimal:
    return max(wallet.effective_daily_limit - wallet_spent_today(wallet=wallet), ZERO)


def transactions_for_user(*, user_id: int) -> QuerySet[Transaction]:
    """Every entry the user is a party to, newest first; FAILED attempts only for their sender."""
    return (
        Transaction.objects.filter(Q(sender_id=user_id) | Q(receiver_id=user_id, status=Transaction.Status.SUCCESS))
        .select_related("sender", "receiver")
        .order_by("-id")
    )


# Every request and websocket handshake with a token runs this: compiled once (wallets/statements.py).
_USER_FIELDS = [field.attname for field in User._meta.concrete_fields]
_USER_FOR_TOKEN = Statement(
    lambda key: Token.objects.filter(key=key, user__is_active=True).values_list(
        *(f"user__{name}" for name in _USER_FIELDS)
    ),
    key="\x00stand-in token key",
)


def user_for_token(*, key: str) -> User | None:
    """The active user an API token belongs to, or None."""
    if not key or len(key) > 64:
        return None
    rows = _USER_FOR_TOKEN.rows(key=key)
    return User.from_db(DEFAULT_DB_ALIAS, _USER_FIELDS, rows[0]) if rows else None


def transactions_page_for_user(
    *, user_id: int, before_id: int | None = None, after_id: int | None = None, limit: int
) -> list[Transaction]:
    """A keyset page of ``transactions_for_user``, newest first: up to ``limit`` entries with ids below
    ``before_id``, or the ``limit`` entries just above ``after_id`` (the page before it, going back).

    Per user, ledger ids follow commit order, so a page never misses a row
    that commits later: new rows only ever appear above the first page. Each
    side of the visibility rule (sent, any status; received, SUCCESS) is a
    range scan of its (party, id) index, combined in one statement (one
    snapshot): the plain ``OR`` lets PostgreSQL walk the primary key instead,
    which for a quiet user in a large ledger reads most of the table.
    """
    ascending = after_id is not None
    bound, op = (after_id, ">") if ascending else (before_id, "<")
    order = "ASC" if ascending else "DESC"
    table = connection.ops.quote_name(Transaction._meta.db_table)
    where = f" AND id {op} %s" if bound is not None else ""
    tail: list[int | str] = [bound] if bound is not None else []
    sql = (
        f"SELECT id FROM (SELECT id FROM {table} WHERE sender_id = %s{where} ORDER BY id {order} LIMIT %s) s"
        f" UNION ALL SELECT id FROM (SELECT id FROM {table} WHERE receiver_id = %s AND status = %s{where}"
        f" ORDER BY id {order} LIMIT %s) r ORDER BY id {order} LIMIT %s"
    )
    params: list[int | str] = [user_id, *tail, limit, user_id, Transaction.Status.SUCCESS, *tail, limit, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = sorted((row[0] for row in cursor.fetchall()), reverse=True)
    if not ids:
        return []
    entries = Transaction.objects.select_related("sender", "receiver").in_bulk(ids)
    return [entries[pk] for pk in ids]


def transaction_for_user(*, user_id: int, transaction_id: int) -> Transaction | None:
    """One entry, if the user may see it (as for ``transactions_for_user``), else None."""
    return transactions_for_user(user_id=user_id).filter(pk=transaction_id).first()


def user_has_wallet(*, user_id: int) -> bool:
    """False for accounts made outside ``user_register`` (e.g. ``createsuperuser``)."""
    return Wallet.objects.filter(user_id=user_id).exists()
