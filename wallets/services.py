"""Wallet services: every write of accounts, wallets and money goes through here.

Each entry point validates its input first (nothing is locked while a person's
typo is being explained), then runs one durable transaction. Money moves only
inside ``transaction.atomic(durable=True)`` with the wallets locked
``SELECT ... FOR UPDATE`` in ascending primary-key order, so two transfers in
opposite directions between the same pair queue instead of deadlocking.
Pushes and security alerts (an SMS to each party of a transfer,
``wallets.accounts.alerts``) leave the process only after COMMIT, through
``transaction.on_commit``.

On PostgreSQL a transfer's lock, checks, writes, ledger row and the alerts'
outbox row are one statement, around the ``paylane_transfer`` function
(``wallets.transfer_function``): across a network the wallet rows stay locked
from that statement to COMMIT, not across four statements and COMMIT.
On SQLite (no stored functions) the same rules run statement by statement
here (``_transfer_steps``, the twin): the lock (which also reads everything
the checks, the push and the alerts need), one UPDATE of both wallets, the
ledger INSERT. Those statements are compiled once per database alias
(``ledger/statements.py``): Django compiling them afresh on every call cost
more CPU than the database spent on the whole transfer (docs/performance.md).

Each money service is observed (``wallets.observe``): one log line per call,
with its ledger id or error code, and the movement counters.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from ledger.models import Transaction
from ledger.money import INTEGER_DIGITS, ZERO, money_format
from ledger.services import Party, daily_limit_change_record, entry_append
from ledger.statements import Statement
from realtime import notify
from wallets import recipients, transfer_function
from wallets.accounts import alerts
from wallets.busy import busy_on_timeout
from wallets.errors import (
    DailyLimitExceeded,
    InsufficientFunds,
    InvalidAmount,
    MobileNotVerified,
    SelfTransfer,
    TopUpLimitExceeded,
    ValidationFailed,
    WalletError,
)
from wallets.limits import spent_on_day
from wallets.models import Profile, User, Wallet
from wallets.money import amount_parse
from wallets.notes import note_clean
from wallets.observe import movement_observed

# The largest balance the column holds (12 integer digits, 2 decimals).
MAX_BALANCE = Decimal(10**INTEGER_DIGITS) - Decimal("0.01")

# Called inside a money transaction right after its ledger row is appended, with
# that row and, for a FAILED attempt, the refusal; whatever it writes commits or
# rolls back with the row (the API stores its Idempotency-Key record this way).
OnRecorded = Callable[[Transaction, WalletError | None], None]


# --- Money ---------------------------------------------------------------------------


@movement_observed(Transaction.Type.ADD_MONEY, actor="user")
def wallet_top_up(*, user: User, amount: object, on_recorded: OnRecorded | None = None) -> Transaction:
    """Add money from outside (a simulated top-up) to ``user``'s wallet.

    Transaction: one, durable. Locks: the user's wallet row.
    Side effects: one ADD_MONEY ledger row; ``on_recorded(entry, None)`` inside
    the transaction; after commit, a push to the user.
    Refusals (bad amount, over the per-operation maximum, ``Busy`` when the
    database timed out) record nothing.
    """
    value = amount_parse(amount)
    if value > settings.PAYLANE_TOP_UP_MAX:
        raise TopUpLimitExceeded(f"A single top-up may add at most {money_format(settings.PAYLANE_TOP_UP_MAX)}.")
    with busy_on_timeout():
        return _top_up_commit(user_id=user.pk, amount=value, on_recorded=on_recorded)


@transaction.atomic(durable=True)
def _top_up_commit(*, user_id: int, amount: Decimal, on_recorded: OnRecorded | None) -> Transaction:
    wallet = Wallet.objects.select_for_update(of=("self",)).select_related("user__profile").get(user_id=user_id)
    if not wallet.user.profile.mobile_verified:
        raise MobileNotVerified()
    if wallet.balance + amount > MAX_BALANCE:
        raise TopUpLimitExceeded("Your wallet cannot hold that much.")
    wallet.balance += amount
    wallet.version += 1
    wallet.save(update_fields=["balance", "version"])
    entry = entry_append(transaction_type=Transaction.Type.ADD_MONEY, amount=amount, receiver=_party(wallet))
    _parties_attach(entry, receiver=wallet)
    if on_recorded is not None:
        on_recorded(entry, None)
    transaction.on_commit(partial(notify.transaction_committed, entry), robust=True)
    return entry


@movement_observed(Transaction.Type.TRANSFER, actor="sender")
def transfer_create(
    *,
    sender: User,
    amount: object,
    to_user_id: object = None,
    to_mobile: str | None = None,
    note: str = "",
    on_recorded: OnRecorded | None = None,
) -> Transaction:
    """Move ``amount`` from ``sender`` to a registered user, by id or by mobile number, with an optional ``note``.

    Exactly one of ``to_user_id`` and ``to_mobile`` names the recipient.
    Transaction: one, durable, for the transfer. Locks: both wallets,
    ascending id. Checks, under the locks: funds first, then the sender's
    daily limit (calendar day in ``TIME_ZONE`` of the one clock reading that
    also stamps the entry). Side effects: one TRANSFER ledger row; after
    commit, a push to both parties and a security alert by SMS to each
    verified party (``wallets.accounts.alerts``, sent off the request's thread).

    A refusal for funds or the limit rolls the attempt back and then records a
    FAILED row in a second transaction (under the sender's lock), attached to
    the raised error as ``.transaction``. Other refusals record nothing.
    ``on_recorded(entry, refusal)`` runs inside whichever transaction appends
    the ledger row (refusal is None for a SUCCESS row).

    Paying a mobile number that has no account counts against the sender's
    ``PAYLANE_RECIPIENT_LOOKUP_RATE`` (``wallets.recipients``, one count with
    the payee lookup); over it, every payment by number is
    refused (``RateLimited``) before the number is looked up, so the answers
    cannot map which numbers have accounts. A database timeout is ``Busy``,
    with nothing recorded.
    """
    value = amount_parse(amount)
    text = note_clean(note)
    receiver_id = _recipient_resolve(sender_id=sender.pk, to_user_id=to_user_id, to_mobile=to_mobile)
    if receiver_id == sender.pk:
        raise SelfTransfer()
    with busy_on_timeout():
        try:
            return _transfer_commit(
                sender_id=sender.pk, receiver_id=receiver_id, amount=value, note=text, on_recorded=on_recorded
            )
        except (InsufficientFunds, DailyLimitExceeded) as refusal:
            _attempt_record_failed(
                sender_id=sender.pk,
                receiver_id=receiver_id,
                amount=value,
                note=text,
                reason=refusal,
                on_recorded=on_recorded,
            )
            raise


def _recipient_resolve(*, sender_id: int, to_user_id: object, to_mobile: str | None) -> int:
    if (to_user_id is None) == (to_mobile is None or to_mobile == ""):
        raise ValidationFailed("Name the recipient by user id or by mobile number (one of them).", field="recipient")
    if to_mobile:
        return recipients.recipient_by_mobile(viewer_id=sender_id, mobile_number=to_mobile)
    # By id, nothing is looked up here: the transfer's lock finds the account (or not).
    return recipients.user_id_parse(to_user_id)


# The transfer's lock: both wallets of active users, FOR UPDATE in ascending id
# order, with what the checks and the push need (compiled once: ledger/statements.py).
_WALLETS_LOCK = Statement(
    lambda sender, receiver: (
        Wallet.objects.select_for_update(of=("self",))
        .filter(user_id__in=(sender, receiver), user__is_active=True)
        .order_by("pk")
        .values_list(
            "pk",
            "user_id",
            "balance",
            "version",
            "spent_on",
            "spent_today",
            "daily_limit",
            "user__username",
            "user__first_name",
            "user__last_name",
            "user__profile__mobile_number",
            "user__profile__mobile_verified_at",
        )
    ),
    sender=-1,
    receiver=-2,
)


def _wallets_lock(*, sender_id: int, receiver_id: int) -> tuple[dict[int, Wallet], set[int]]:
    """Lock both parties' wallets; each comes with its user attached (id, username, names and
    profile: what the push and the security alerts need), by user id.
    Also: which of the two users have a verified mobile number."""
    wallets: dict[int, Wallet] = {}
    verified: set[int] = set()
    for row in _WALLETS_LOCK.rows(sender=sender_id, receiver=receiver_id):
        pk, user_id, balance, version, spent_on, spent_today, daily_limit, *names, mobile, verified_at = row
        wallet = Wallet(
            pk=pk,
            user_id=user_id,
            balance=balance,
            version=version,
            spent_on=spent_on,
            spent_today=spent_today,
            daily_limit=daily_limit,
        )
        username, first_name, last_name = names
        wallet.user = User(pk=user_id, username=username, first_name=first_name, last_name=last_name)
        wallet.user.profile = Profile(user_id=user_id, mobile_number=mobile, mobile_verified_at=verified_at)
        wallets[user_id] = wallet
        if verified_at is not None:
            verified.add(user_id)
    return wallets, verified


@transaction.atomic(durable=True)
def _transfer_commit(
    *, sender_id: int, receiver_id: int, amount: Decimal, note: str, on_recorded: OnRecorded | None
) -> Transaction:
    return transfer_apply(
        sender_id=sender_id, receiver_id=receiver_id, amount=amount, note=note, on_recorded=on_recorded
    )


def transfer_apply(
    *, sender_id: int, receiver_id: int, amount: Decimal, note: str, on_recorded: OnRecorded | None
) -> Transaction:
    """The transfer itself, inside the caller's durable transaction (opens none of its own).

    ``_transfer_commit`` runs it alone; paying a money request
    (``wallets.money_requests.request_pay``) runs it after locking the
    request, so the payment and the request's PAID commit together. Locks both
    wallets (ascending id), checks, writes, appends the TRANSFER row, queues the
    alerts and registers the push for after commit. Raises the transfer's
    refusals; the caller records a FAILED attempt (``transfer_failed_record``)
    after its own rollback.
    """
    if transfer_function.enabled():
        # Lock, check, write, append, and queue the alerts' outbox row: one statement, one round
        # trip (paylane_transfer, wallets migration 0011).
        entry, sender, receiver = transfer_function.transfer_one_statement(
            sender_id=sender_id, receiver_id=receiver_id, amount=amount, note=note, max_balance=MAX_BALANCE
        )
        _parties_attach(entry, sender=sender, receiver=receiver)
    else:
        entry, sender, receiver = _transfer_steps(
            sender_id=sender_id, receiver_id=receiver_id, amount=amount, note=note
        )
        _parties_attach(entry, sender=sender, receiver=receiver)
        alerts.transfer_alerts_enqueue(entry)  # the outbox: the alerts' task row commits with the entry
    if on_recorded is not None:
        on_recorded(entry, None)
    transaction.on_commit(partial(notify.transaction_committed, entry), robust=True)
    return entry


def _transfer_steps(
    *, sender_id: int, receiver_id: int, amount: Decimal, note: str
) -> tuple[Transaction, Wallet, Wallet]:
    """The transfer statement by statement: the twin of ``paylane_transfer`` (SQLite; PostgreSQL
    with ``transfer_function.ONE_STATEMENT`` off). Lock, check, write, append: the same rules,
    in the same order, with the same refusals (``wallets.transfer_function``)."""
    if sender_id == receiver_id:
        raise SelfTransfer()
    wallets, verified = _wallets_lock(sender_id=sender_id, receiver_id=receiver_id)
    # The one clock reading, taken under the locks (so a wallet's movements read
    # it in their commit order): the day of the limit and the entry's time agree.
    now = timezone.now()
    sender, receiver = wallets.get(sender_id), wallets.get(receiver_id)
    if sender is None:
        raise transfer_function.sender_cannot_send()
    if sender_id not in verified:
        raise MobileNotVerified()
    if receiver is None or receiver_id not in verified:  # an unverified account answers as an unknown one
        raise transfer_function.recipient_unknown()
    if sender.balance < amount:
        raise transfer_function.insufficient_funds(sender.balance)
    today = timezone.localdate(now)
    spent = spent_on_day(sender, today)
    limit = sender.effective_daily_limit
    if spent + amount > limit:
        raise transfer_function.over_daily_limit(limit=limit, spent=spent)
    if receiver.balance + amount > MAX_BALANCE:
        raise transfer_function.recipient_full()
    sender.balance -= amount
    sender.version += 1
    sender.spent_on, sender.spent_today = today, spent + amount
    receiver.balance += amount
    receiver.version += 1
    _balances_write(sender=sender, receiver=receiver)
    entry = entry_append(
        transaction_type=Transaction.Type.TRANSFER,
        amount=amount,
        sender=_party(sender),
        receiver=_party(receiver),
        created_at=now,
        note=note,
    )
    return entry, sender, receiver


def _party(wallet: Wallet) -> Party:
    """A wallet as a ledger row's party: its user and its figures as they stand (already updated)."""
    return Party(user_id=wallet.user_id, balance=wallet.balance, version=wallet.version)


def _parties_attach(entry: Transaction, *, receiver: Wallet, sender: Wallet | None = None) -> None:
    """Put the parties' users, loaded with their wallets under the lock, on ``entry``:
    the push that follows the commit then needs no query for their names or the sender's limit."""
    entry.receiver = receiver.user
    if sender is not None:
        entry.sender = sender.user


def _balances_write(*, sender: Wallet, receiver: Wallet) -> None:
    """Write both locked wallets' new figures (computed under the lock) in one UPDATE."""
    params = [
        sender.pk,
        _db_value("balance", sender.balance),
        _db_value("balance", receiver.balance),
        sender.pk,
        _db_value("spent_on", sender.spent_on),
        sender.pk,
        _db_value("spent_today", sender.spent_today),
        sender.pk,
        receiver.pk,
    ]
    with connection.cursor() as cursor:
        cursor.execute(_BALANCES_WRITE, params)
        if cursor.rowcount != 2:  # both rows are locked by this transaction: cannot happen
            raise RuntimeError(f"balance write touched {cursor.rowcount} wallet rows, not 2")


def _db_value(field_name: str, value: object) -> Any:
    """``value`` of a ``Wallet`` field as the ORM would send it to this database."""
    field = Wallet._meta.get_field(field_name)
    assert isinstance(field, Field)
    return field.get_db_prep_save(value, connection)


# Each wallet's version counts its balance changes; only the sender's daily-limit counter moves.
_BALANCES_WRITE = """
UPDATE wallets_wallet SET
    balance = CASE WHEN id = %s THEN %s ELSE %s END,
    version = version + 1,
    spent_on = CASE WHEN id = %s THEN %s ELSE spent_on END,
    spent_today = CASE WHEN id = %s THEN %s ELSE spent_today END
WHERE id IN (%s, %s)
"""


def transfer_failed_record(
    *, sender_id: int, receiver_id: int, amount: Decimal, note: str, reason: WalletError, on_recorded: OnRecorded | None
) -> Transaction:
    """Record a refused transfer (funds, daily limit) as a FAILED row, in a durable transaction of its own.

    For callers of ``transfer_apply`` whose transaction rolled back on the refusal."""
    return _attempt_record_failed(
        sender_id=sender_id, receiver_id=receiver_id, amount=amount, note=note, reason=reason, on_recorded=on_recorded
    )


@transaction.atomic(durable=True)
def _attempt_record_failed(
    *,
    sender_id: int,
    receiver_id: int,
    amount: Decimal,
    note: str,
    reason: WalletError,
    on_recorded: OnRecorded | None,
) -> Transaction:
    # Locked so that the FAILED row's id, too, follows this wallet's commit order.
    sender = Wallet.objects.select_for_update().get(user_id=sender_id)
    entry = entry_append(
        transaction_type=Transaction.Type.TRANSFER,
        amount=amount,
        sender=_party(sender),
        receiver=Party(user_id=receiver_id),
        status=Transaction.Status.FAILED,
        failure_reason=reason.code,
        note=note,
    )
    # The one place a refusal learns its ledger row: everything after (the
    # Idempotency-Key's record, the API's answer, the page) reads it from here.
    reason.transaction = entry
    if on_recorded is not None:
        on_recorded(entry, reason)
    transaction.on_commit(partial(notify.transaction_committed, entry), robust=True)
    return entry


def wallet_set_daily_limit(*, wallet: Wallet, daily_limit: Decimal | None, actor: User | None = None) -> Wallet:
    """Set (or with ``None`` clear) a wallet's daily-limit override, leaving an audit record.

    Transaction: one, durable. Locks: the wallet row. Side effects: one
    append-only ``ledger.DailyLimitChange`` row (who, when, from what to what)
    in the same transaction; none when the value does not change. ``actor``
    is the person making the change (None: a shell or script, recorded as such).
    """
    if daily_limit is not None and daily_limit < ZERO:
        raise InvalidAmount("A daily limit cannot be negative.", field="daily_limit")
    with transaction.atomic(durable=True):
        locked = Wallet.objects.select_for_update().get(pk=wallet.pk)
        old_limit = locked.daily_limit
        if old_limit != daily_limit:
            locked.daily_limit = daily_limit
            locked.save(update_fields=["daily_limit"])
            daily_limit_change_record(
                wallet_id=locked.pk, actor_id=actor.pk if actor else None, old_limit=old_limit, new_limit=daily_limit
            )
    return locked
