"""Paying someone as a person does: the payment PIN first, then the transfer.

The API's ``POST /api/v1/transfers/`` and the pages' transfer and pay-by-mobile
forms call ``payment_send``; code that moves money on the service's own account
(tests, benchmarks, scripts) calls ``wallets.services.transfer_create``, which
asks for no PIN.
"""

from __future__ import annotations

from django.views.decorators.debug import sensitive_variables

from ledger.models import Transaction
from wallets import services
from wallets.accounts import pins
from wallets.models import User
from wallets.services import OnRecorded


@sensitive_variables("pin")
def payment_send(
    *,
    sender: User,
    pin: object,
    amount: object,
    to_user_id: object = None,
    to_mobile: str | None = None,
    note: str = "",
    on_recorded: OnRecorded | None = None,
) -> Transaction:
    """Check ``sender``'s payment PIN, then move ``amount`` to the recipient (``services.transfer_create``).

    Transactions: the PIN's try (durable, under the sender's ``PaymentPin`` row
    lock: ``pins.pin_try``), committed before anything else; then the
    transfer's own. A refusal for the PIN (``PinRequired``, ``PinNotSet``,
    ``InvalidPin``, ``PinLocked``) comes before the recipient is looked up or
    the amount moved: it records nothing in the ledger, moves nothing and
    counts no recipient lookup; only a wrong PIN is counted, towards the
    lockout. Everything after the PIN is ``transfer_create``'s: its checks, its
    FAILED rows, its ``on_recorded`` hook, its push after commit.
    """
    pins.pin_verify(user=sender, pin=pin)
    return services.transfer_create(
        sender=sender, amount=amount, to_user_id=to_user_id, to_mobile=to_mobile, note=note, on_recorded=on_recorded
    )
