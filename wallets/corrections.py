"""Corrections of a transfer: what refunds (``wallets.refunds``) and staff reversals (``wallets.reversals``) share.

A correction is a new ledger entry (REFUND or REVERSAL) that moves money back
from the receiver of a SUCCESS TRANSFER to its sender and names that transfer
in ``corrects``. Every correction of one transfer involves the same two
wallets, so whoever holds both of their row locks (taken here, ascending id,
as a transfer takes them) is the only one who may add a correction of it: two
refunds, or a refund and a reversal, of one transfer queue on those locks, and
each reads the sum of the corrections before it under them. So the SUCCESS
corrections of a transfer never add up to more than its amount
(``verify_ledger`` checks it again: ``ledger.reconcile.correction_findings``).

These helpers run inside the caller's durable transaction; none opens one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction

from ledger.models import Transaction
from ledger.money import ZERO, MoneySum, money_format
from ledger.services import Party, entry_append
from realtime import notify
from wallets.accounts import alerts
from wallets.errors import InsufficientFunds, InvalidAmount, WalletError
from wallets.models import Wallet
from wallets.services import MAX_BALANCE, OnRecorded


@dataclass
class Locked:
    """A transfer about to be corrected, with both of its parties' wallets locked."""

    entry: Transaction
    # The transfer's receiver: the one who pays a correction back.
    payer: Wallet
    # The transfer's sender: the one a correction pays back.
    payee: Wallet


def transfer_lock(*, entry: Transaction) -> Locked:
    """Lock both wallets of ``entry`` (a transfer), ascending id, as ``transfer_create`` does.

    Locks: the two wallet rows, ``SELECT ... FOR UPDATE``. Call inside a durable transaction.
    """
    assert entry.sender_id is not None
    wallets = {
        wallet.user_id: wallet
        for wallet in Wallet.objects.select_for_update(of=("self",))
        .select_related("user")
        .filter(user_id__in=(entry.sender_id, entry.receiver_id))
        .order_by("pk")
    }
    return Locked(entry=entry, payer=wallets[entry.receiver_id], payee=wallets[entry.sender_id])


def corrected_sum(*, entry_id: int) -> Decimal:
    """What the SUCCESS corrections (refunds and reversals) of ledger entry ``entry_id`` add up to.

    Exact only under ``transfer_lock`` of that entry: no other correction of it can commit meanwhile.
    """
    return corrected_sums(entry_ids=[entry_id]).get(entry_id, ZERO)


def corrected_sums(*, entry_ids: list[int]) -> dict[int, Decimal]:
    """What the SUCCESS corrections of each of ``entry_ids`` add up to (absent: none), in one query."""
    if not entry_ids:
        return {}
    rows = (
        Transaction.objects.filter(corrects_id__in=entry_ids, status=Transaction.Status.SUCCESS)
        .values("corrects_id")
        .annotate(total=MoneySum("amount"))
        .values_list("corrects_id", "total")
    )
    return {entry_id: total for entry_id, total in rows}


def refundable_rest(*, entry: Transaction) -> Decimal:
    """What is left of ``entry``'s amount to correct (a hint outside the locks, exact under them)."""
    return max(entry.amount - corrected_sum(entry_id=entry.pk), ZERO)


def correction_check(*, locked: Locked, amount: Decimal, rest: Decimal) -> None:
    """The amount of a correction against what is left and the two balances (under the locks)."""
    currency = settings.PAYLANE_CURRENCY
    if amount > rest:
        raise InvalidAmount(f"At most {money_format(rest, currency)} of this payment is left to give back.")
    if locked.payee.balance + amount > MAX_BALANCE:
        raise InvalidAmount("The payer's wallet cannot hold that much.")


def correction_append(
    *,
    locked: Locked,
    transaction_type: str,
    amount: Decimal,
    note: str,
    now: datetime,
    on_recorded: OnRecorded | None = None,
) -> Transaction:
    """Move ``amount`` from the transfer's receiver back to its sender and append the correction's entry.

    Under ``transfer_lock``, after every check. Writes: both wallets' balance
    and version (never the daily-limit counter: giving money back is not
    spending it), one SUCCESS ledger row naming the transfer in ``corrects``.
    Side effects: the security alerts to both parties queued on the outbox
    (``alerts.transfer_alerts_enqueue``) and ``on_recorded(entry, None)``,
    inside the transaction; after commit, the push to both parties
    (``notify.transaction_committed``).
    """
    payer, payee = locked.payer, locked.payee
    if payer.balance < amount:  # the caller's own check comes first; this one guards the balances
        raise InsufficientFunds()
    payer.balance -= amount
    payer.version += 1
    payee.balance += amount
    payee.version += 1
    payer.save(update_fields=["balance", "version"])
    payee.save(update_fields=["balance", "version"])
    entry = entry_append(
        transaction_type=transaction_type,
        amount=amount,
        sender=Party(user_id=payer.user_id, balance=payer.balance, version=payer.version),
        receiver=Party(user_id=payee.user_id, balance=payee.balance, version=payee.version),
        created_at=now,
        note=note,
        corrects_id=locked.entry.pk,
    )
    entry.sender, entry.receiver = payer.user, payee.user
    alerts.transfer_alerts_enqueue(entry)  # the outbox: the alerts' task row commits with the entry
    if on_recorded is not None:
        on_recorded(entry, None)
    transaction.on_commit(partial(notify.transaction_committed, entry), robust=True)
    return entry


def correction_record_failed(
    *, locked: Locked, transaction_type: str, amount: Decimal, note: str, now: datetime, reason: WalletError
) -> Transaction:
    """Append a FAILED correction (nothing moves): the payer's unchanged figures, no payee figures.

    Under ``transfer_lock``. The refusal learns its row (``reason.transaction``).
    Side effects: after commit, the push to the payer (a FAILED entry goes to its sender only).
    """
    payer = locked.payer
    entry = entry_append(
        transaction_type=transaction_type,
        amount=amount,
        sender=Party(user_id=payer.user_id, balance=payer.balance, version=payer.version),
        receiver=Party(user_id=locked.payee.user_id),
        status=Transaction.Status.FAILED,
        failure_reason=reason.code,
        created_at=now,
        note=note,
        corrects_id=locked.entry.pk,
    )
    reason.transaction = entry
    transaction.on_commit(partial(notify.transaction_committed, entry), robust=True)
    return entry
