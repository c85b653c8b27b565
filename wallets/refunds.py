"""Refunds: the receiver of a payment gives some or all of it back, as a new REFUND entry.

Who may: the receiver of a SUCCESS TRANSFER, within ``PAYLANE_REFUND_DAYS``
of it, with their payment PIN. How much: by default what is left of the
payment after its earlier corrections (refunds and staff reversals), never
more. A refund is not spending: it does not count against the refunding
person's daily limit. The lock discipline and the sum of corrections are
``wallets.corrections``'s.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ledger.models import Transaction
from ledger.money import ZERO, money_format
from ledger.selectors import entry_visible_to
from wallets import corrections
from wallets.accounts import pins
from wallets.busy import busy_on_timeout
from wallets.errors import AlreadyRefunded, NotRefundable, RefundInsufficientFunds, TransactionNotFound
from wallets.models import User
from wallets.money import amount_parse
from wallets.notes import note_clean
from wallets.observe import movement_observed
from wallets.services import OnRecorded


def refund_window_start() -> datetime:
    """The oldest time a payment may have been made and still be refunded now."""
    return timezone.now() - timedelta(days=settings.PAYLANE_REFUND_DAYS)


def refund_refusal(*, entry: Transaction, user_id: int) -> NotRefundable | None:
    """Why ``user_id`` may not refund ``entry`` (a ``NotRefundable`` to raise), or None: the one rule."""
    if entry.transaction_type != Transaction.Type.TRANSFER or entry.status != Transaction.Status.SUCCESS:
        return NotRefundable("Only a payment you received can be refunded.")
    if entry.receiver_id != user_id:
        return NotRefundable("Only the person who received a payment can refund it.")
    if entry.created_at < refund_window_start():
        return NotRefundable(f"A payment can be refunded within {settings.PAYLANE_REFUND_DAYS} days of it.")
    return None


def refund_is_offered(*, entry: Transaction, user_id: int) -> bool:
    """Whether ``user_id`` may refund ``entry`` by the rule alone (no query; what is left is not read)."""
    return refund_refusal(entry=entry, user_id=user_id) is None


def refunds_offered(*, entries: list[Transaction], user_id: int) -> set[int]:
    """The ids of ``entries`` on which the history shows a Refund button for ``user_id``: the rule allows
    it and something is left to give back. One query for the whole list (none when no entry qualifies)."""
    allowed = {entry.pk: entry.amount for entry in entries if refund_is_offered(entry=entry, user_id=user_id)}
    corrected = corrections.corrected_sums(entry_ids=list(allowed))
    return {pk for pk, amount in allowed.items() if corrected.get(pk, ZERO) < amount}


def refundable_entry(*, user: User, transaction_id: int) -> tuple[Transaction, Decimal]:
    """The payment ``user`` may refund and what is left of it (for the refund page's default).

    Raises ``TransactionNotFound`` (not theirs to see), ``NotRefundable``, ``AlreadyRefunded``.
    """
    entry = entry_visible_to(user_id=user.pk, entry_id=transaction_id)
    if entry is None:
        raise TransactionNotFound()
    refusal = refund_refusal(entry=entry, user_id=user.pk)
    if refusal is not None:
        raise refusal
    rest = corrections.refundable_rest(entry=entry)
    if rest <= 0:
        raise AlreadyRefunded()
    return entry, rest


@movement_observed(Transaction.Type.REFUND, actor="user")
@sensitive_variables("pin")
def refund_create(
    *,
    user: User,
    transaction_id: int,
    pin: object,
    amount: object = None,
    note: str = "",
    on_recorded: OnRecorded | None = None,
) -> Transaction:
    """Give back ``amount`` (None or "": all that is left) of the payment ``transaction_id`` that ``user`` received.

    Checked first, without locks: the amount's and note's form, that ``user``
    may see the entry (else ``TransactionNotFound``) and may refund it
    (``NotRefundable``: not a SUCCESS TRANSFER, not its receiver, older than
    ``PAYLANE_REFUND_DAYS``), that something is left (``AlreadyRefunded``).
    Then the payment PIN (``pins.pin_verify``: its own durable transaction,
    a wrong PIN counted). Then one durable transaction. Locks: both wallets of
    the payment, ascending id (``corrections.transfer_lock``). Checks, under
    the locks: the refund rules again, what is left after every SUCCESS
    correction so far (``AlreadyRefunded`` when nothing, ``InvalidAmount``
    when less than asked), the refunding person's balance
    (``RefundInsufficientFunds``, nothing recorded). Side effects: one REFUND
    ledger row from the payment's receiver to its sender, naming it in
    ``corrects``; both balances and versions (not the daily-limit counter);
    ``on_recorded(entry, None)`` inside the transaction; after commit, the push
    to both parties. A database timeout is ``Busy``, with nothing recorded.
    """
    value = None if amount is None or amount == "" else amount_parse(amount)
    text = note_clean(note)
    entry, _rest = refundable_entry(user=user, transaction_id=transaction_id)
    pins.pin_verify(user=user, pin=pin)
    with busy_on_timeout():
        return _refund_commit(user_id=user.pk, entry=entry, amount=value, note=text, on_recorded=on_recorded)


@transaction.atomic(durable=True)
def _refund_commit(
    *, user_id: int, entry: Transaction, amount: Decimal | None, note: str, on_recorded: OnRecorded | None
) -> Transaction:
    locked = corrections.transfer_lock(entry=entry)
    now = timezone.now()
    refusal = refund_refusal(entry=entry, user_id=user_id)
    if refusal is not None:  # the window may have closed while the PIN was checked
        raise refusal
    rest = entry.amount - corrections.corrected_sum(entry_id=entry.pk)
    if rest <= 0:
        raise AlreadyRefunded()
    value = rest if amount is None else amount
    corrections.correction_check(locked=locked, amount=value, rest=rest)
    if locked.payer.balance < value:
        raise RefundInsufficientFunds(f"Insufficient funds: your balance is {money_format(locked.payer.balance)}.")
    return corrections.correction_append(
        locked=locked,
        transaction_type=Transaction.Type.REFUND,
        amount=value,
        note=note,
        now=now,
        on_recorded=on_recorded,
    )
