"""A transfer in one statement on PostgreSQL, and the refusals both paths raise.

``transfer_one_statement`` calls ``paylane_transfer(...)`` (shipped by
``wallets/migrations/0011_transfer_function.py``): lock both wallets in
ascending id order, check funds then the daily limit, write both balances,
append the TRANSFER row, all in one round trip. Across a network the wallet
rows are then locked for about one round trip instead of four, which is what
bounds a merchant wallet paid by many people (docs/performance.md, "Hot
wallets across a network"). The caller's durable transaction still owns the
COMMIT. The alerts' outbox row is written by the same statement; what stays in
Python runs after it, before COMMIT: the ``on_recorded`` hook (the
Idempotency-Key or form token's record, when there is one) and registering
the ``on_commit`` push (docs/ledger.md, "The transfer function").

The Python path of ``wallets.services`` (``_transfer_steps``) is the twin: it
runs on SQLite, which has no stored functions, and on PostgreSQL when
``ONE_STATEMENT`` is off (the benchmark's "before"). Both build their
refusals here, so the same inputs give the same errors, word for word
(``tests/wallets/test_transfer_twin.py``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone

from jobs.outbox import OutboxRow, outbox_row
from ledger.models import Transaction
from ledger.money import ZERO, money_format
from wallets.accounts import alerts
from wallets.errors import (
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    MobileNotVerified,
    RecipientNotFound,
    SelfTransfer,
    ValidationFailed,
    WalletError,
)
from wallets.models import Profile, User, Wallet

# Off: PostgreSQL too runs the Python path (statement by statement), as before the function.
ONE_STATEMENT = True

# The clock the function reads is PostgreSQL's, under the locks (clock_timestamp()). A process
# whose clock was replaced (tests that travel in time patch ``timezone.now`` or ``localdate``)
# takes the twin, which reads that clock under the same locks: passing a reading taken before
# the lock would let a transfer that waited past midnight count on the wrong day.
_SYSTEM_CLOCK = (timezone.now, timezone.localdate)


def enabled() -> bool:
    """Whether this transfer runs as the one statement: PostgreSQL, switched on, the system clock."""
    return ONE_STATEMENT and connection.vendor == "postgresql" and (timezone.now, timezone.localdate) == _SYSTEM_CLOCK


# --- The refusals, one builder each (both paths) ----------------------------------------------


def sender_cannot_send() -> WalletError:
    return ValidationFailed("Your account cannot send money.", field="recipient")


def recipient_unknown() -> WalletError:
    return RecipientNotFound("No registered user has that id.")


def insufficient_funds(balance: Decimal) -> WalletError:
    return InsufficientFunds(f"Insufficient funds: your balance is {money_format(balance)}.")


def over_daily_limit(*, limit: Decimal, spent: Decimal) -> WalletError:
    return DailyLimitExceeded(
        f"This would exceed your daily limit of {money_format(limit)}: "
        f"{money_format(max(limit - spent, ZERO))} left today."
    )


def recipient_full() -> WalletError:
    return InvalidAmount("The recipient's wallet cannot hold that much.")


# --- The one statement -----------------------------------------------------------------------

_CALL = "SELECT * FROM paylane_transfer(%s, %s, %s, %s, %s, %s, %s, %s)"


def _statement() -> tuple[str, OutboxRow]:
    """The transfer with its alerts' outbox row, in one statement.

    The function moves the money; the outbox row (``jobs.outbox``) rides in
    the same statement, written only for a transfer that went through (both
    parties' numbers are verified then), with the ledger id the function
    returned put into its arguments: the alerts are composed when the worker
    sends them (``alerts.transfer_alerts_deliver``). So nothing but COMMIT
    follows the lock on the network.
    """
    row = outbox_row(alerts.transfer_alerts_deliver, ledger_id=0)
    values = [
        "jsonb_set(%s, '{kwargs,ledger_id}', to_jsonb(transfer.entry_id))" if field == "args_kwargs" else "%s"
        for field in row.fields
    ]
    sql = (
        f"WITH transfer AS MATERIALIZED ({_CALL}), "
        f"alert AS (INSERT INTO {row.table} ({', '.join(row.columns)}) "
        f"SELECT {', '.join(values)} FROM transfer WHERE transfer.outcome = 'ok') "
        "SELECT * FROM transfer"
    )
    return sql, row


def transfer_one_statement(
    *, sender_id: int, receiver_id: int, amount: Decimal, note: str, max_balance: Decimal
) -> tuple[Transaction, Wallet, Wallet]:
    """Run ``paylane_transfer`` inside the caller's transaction; the appended entry and both wallets
    as it left them (each with its user and profile: what the push reads). The same statement
    queues the transfer's alerts (``_statement``).

    Raises the refusal the function answered; it wrote nothing then, and the
    caller's transaction rolls back and releases the locks.
    """
    sql, alert = _statement()
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            [
                sender_id,
                receiver_id,
                amount,
                note,
                settings.PAYLANE_CURRENCY,
                settings.PAYLANE_DAILY_LIMIT,
                max_balance,
                settings.TIME_ZONE,
                *alert.params,
            ],
        )
        columns = [column.name for column in cursor.description]
        row = dict(zip(columns, cursor.fetchone(), strict=True))
    outcome = row["outcome"]
    if outcome != "ok":
        raise _refusal(outcome, row)
    created_at: datetime = row["created_at"]
    sender = _wallet(row, "sender", user_id=sender_id, balance=row["sender_balance"], version=row["sender_version"])
    sender.spent_on, sender.spent_today = timezone.localdate(created_at), row["spent"]
    sender.daily_limit = row["daily_limit"]  # the effective limit: what the push's remaining_today reads
    receiver = _wallet(
        row, "receiver", user_id=receiver_id, balance=row["receiver_balance"], version=row["receiver_version"]
    )
    entry = Transaction(
        pk=row["entry_id"],
        transaction_type=Transaction.Type.TRANSFER,
        status=Transaction.Status.SUCCESS,
        amount=amount,
        currency=settings.PAYLANE_CURRENCY,
        sender_id=sender_id,
        receiver_id=receiver_id,
        sender_balance_after=sender.balance,
        sender_version_after=sender.version,
        receiver_balance_after=receiver.balance,
        receiver_version_after=receiver.version,
        failure_reason="",
        created_at=created_at,
        note=note,
        corrects_id=None,
        row_hash=row["row_hash"],
    )
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry, sender, receiver


def _refusal(outcome: str, row: dict[str, Any]) -> WalletError:
    if outcome == "insufficient_funds":
        return insufficient_funds(row["sender_balance"])
    if outcome == "daily_limit_exceeded":
        return over_daily_limit(limit=row["daily_limit"], spent=row["spent"])
    builders = {
        "self_transfer": SelfTransfer,
        "validation_error": sender_cannot_send,
        "mobile_not_verified": MobileNotVerified,
        "recipient_not_found": recipient_unknown,
        "invalid_amount": recipient_full,
    }
    return builders[outcome]()


def _wallet(row: dict[str, Any], side: str, *, user_id: int, balance: Decimal, version: int) -> Wallet:
    wallet = Wallet(pk=row[f"{side}_wallet_id"], user_id=user_id, balance=balance, version=version)
    wallet.user = User(
        pk=user_id,
        username=row[f"{side}_username"],
        first_name=row[f"{side}_first_name"],
        last_name=row[f"{side}_last_name"],
    )
    wallet.user.profile = Profile(
        user_id=user_id, mobile_number=row[f"{side}_mobile"], mobile_verified_at=row[f"{side}_verified_at"]
    )
    return wallet
