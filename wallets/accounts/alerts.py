"""Security alerts: an SMS to the account's verified number when money moves or a credential changes.

What: money sent and money received (``transfer_alerts_enqueue``: transfers,
refunds and staff reversals), a password
changed or reset (``password_changed``, ``password_reset``), a new API token
(``api_token_issued``), and a payment PIN set, changed or locked (``pin_set``,
``pin_changed``, ``pin_locked``, called by the PIN service). Top-ups send none.

When: only after the COMMIT of what they report, never for a rolled-back
operation, and never in its way. Each is a task written by the transactional
outbox (``jobs.outbox``) in the very transaction that makes the change: the
task row commits with it or rolls back with it, so a crash right after COMMIT
loses no alert and a rollback sends none. The worker (``manage.py db_worker``)
sends it; a failing SMS backend makes the task fail and retry with backoff
(``jobs.worker``), and never fails or slows the operation, which only wrote a
row. Delivery is at least once and de-duplicated: a transfer's alerts by its
ledger id and party (``jobs.outbox.deliver_once``), any other alert by a key
made when it was enqueued.

To whom: the account's *verified* number only; an unverified number is not
proven to be the holder's, and none gets an alert.

An alert never carries a secret (no code, password, PIN or token): it says
what happened and what to do if it was not you. Money alerts give the amount,
the counterparty's masked name (``wallets.accounts.payees.display_name``, the
one the payer saw before paying) and the balance after. A transfer on
PostgreSQL queues its row inside its one statement (``wallets.transfer_function``)
knowing only the ledger id there: its words are composed when the worker runs
the task, from the entry (amount, balances after) and the parties as they are
then; every other movement's words are composed when it is queued. Task arguments are
plain JSON holding no secret.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from functools import partial

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from jobs.outbox import deliver_once, delivery_key, outbox_enqueue
from ledger.models import Transaction
from ledger.money import money_format
from wallets.accounts.payees import display_name as masked
from wallets.accounts.sms import sms_send
from wallets.errors import SmsUnavailable
from wallets.models import Profile, User

NOT_YOU = "Not you? Reset your password at once (Forgot your password? on the sign-in page)."


@task
def transfer_alerts_deliver(*, ledger_id: int, messages: list[list[str]] | None = None) -> int:
    """Send a transfer's alerts (``[party, to, body]`` each) that were not sent yet; how many went now.

    Without ``messages`` (the row queued by the one-statement transfer,
    ``wallets.transfer_function``, which knows the ledger id only in the
    database), they are composed here, from the ledger row (its amount and
    each party's balance after it) and the parties as they are now (names,
    verified numbers), in the words of ``transfer_alerts_enqueue``.

    Raises what the SMS backend raises: the worker retries the task with
    backoff, and the alerts already delivered are not sent again.
    """
    if messages is None:
        entry = Transaction.objects.select_related("sender__profile", "receiver__profile").get(pk=ledger_id)
        messages = transfer_messages(entry)
    sent = 0
    for party, to, body in messages:
        key = delivery_key(f"transfer-alert-{party}", ledger_id)
        if deliver_once(key=key, send=partial(_send, to=to, body=body)):
            sent += 1
    return sent


@task
def alert_deliver(*, key: str, to: str, body: str) -> bool:
    """Send one credential alert unless it was delivered already (a retried task); True if it went now."""
    return deliver_once(key=key, send=partial(_send, to=to, body=body))


def _send(*, to: str, body: str) -> None:
    """``sms_send``, with a failure told by its kind only: a provider's message may hold the number or
    the text, which must not reach the log or the task's row."""
    try:
        sms_send(to=to, body=body)
    except Exception as exc:
        raise SmsUnavailable(f"the SMS backend failed: {type(exc).__name__}") from None


# --- Money -------------------------------------------------------------------------------------


def transfer_alerts_enqueue(entry: Transaction) -> None:
    """Queue both parties' alerts of a SUCCESS transfer, in its own transaction (the outbox).

    Call inside the transfer's durable transaction, after its entry is
    appended: "Paid INR 120.50 to Bo** K****. Balance INR 879.50." to the
    sender, "Received INR 120.50 from As** V****. Balance INR 1,120.50." to
    the receiver, each only to a verified number. The entry the transfer
    service hands over carries both users with their names and numbers, read
    under its lock: then no query (an entry loaded afresh costs one).
    """
    if messages := transfer_messages(entry):
        outbox_enqueue(transfer_alerts_deliver, ledger_id=entry.pk, messages=messages)


def transfer_messages(entry: Transaction) -> list[list[str]]:
    """Each verified party's alert of ``entry`` as ``[party, to, body]`` (none for a FAILED row)."""
    if entry.status != Transaction.Status.SUCCESS or entry.transaction_type not in _MONEY_WORDS:
        return []
    sender, receiver = _parties(entry)
    amount = money_format(entry.amount, entry.currency)
    sent, received = _MONEY_WORDS[entry.transaction_type]
    messages = []
    if to := _verified_number(sender):
        balance = money_format(entry.sender_balance_after, entry.currency)  # type: ignore[arg-type]
        messages.append(["sender", to, f"{sent} {amount} to {_masked(receiver)}. Balance {balance}."])
    if to := _verified_number(receiver):
        balance = money_format(entry.receiver_balance_after, entry.currency)  # type: ignore[arg-type]
        messages.append(["receiver", to, f"{received} {amount} from {_masked(sender)}. Balance {balance}."])
    return messages


# What each party's alert calls the movement: a transfer, and the corrections that give one back
# (a refund by its receiver, a reversal by two staff members), which alert both parties the same way.
_MONEY_WORDS: dict[str, tuple[str, str]] = {
    Transaction.Type.TRANSFER: ("Paid", "Received"),
    Transaction.Type.REFUND: ("Refunded", "Refund received:"),
    Transaction.Type.REVERSAL: ("Reversed by Paylane staff:", "Reversal received:"),
}


def _masked(user: User) -> str:
    return masked(username=user.username, first_name=user.first_name, last_name=user.last_name)


def _parties(entry: Transaction) -> tuple[User, User]:
    """The entry's sender and receiver, each with their profile; one query unless both came with it."""
    if Transaction.sender.is_cached(entry) and Transaction.receiver.is_cached(entry):
        sender, receiver = entry.sender, entry.receiver
        if sender is not None and User.profile.is_cached(sender) and User.profile.is_cached(receiver):
            return sender, receiver
    users = User.objects.select_related("profile").in_bulk([entry.sender_id, entry.receiver_id])
    return users[entry.sender_id], users[entry.receiver_id]  # type: ignore[index]


def _verified_number(user: User) -> str | None:
    profile: Profile | None = getattr(user, "profile", None)
    if profile is None or not profile.mobile_verified:
        return None
    return profile.mobile_number


# --- Credentials -------------------------------------------------------------------------------


def _alert_enqueue(*, user: User, kind: str, body: str) -> None:
    """Queue ``body`` for the user's verified number (one query), in the caller's transaction (the outbox).

    Call inside the transaction that makes the change it reports; outside one,
    the change has committed already and the alert's task row commits at once.
    """
    to = (
        Profile.objects.filter(user_id=user.pk, mobile_verified_at__isnull=False)
        .values_list("mobile_number", flat=True)
        .first()
    )
    if not to:
        return
    with transaction.atomic():  # joins the caller's transaction; opens one in autocommit
        outbox_enqueue(alert_deliver, key=f"{kind}:{uuid.uuid4().hex}", to=to, body=body)


def password_changed(user: User) -> None:
    """ "Your password was changed" (the person knew the old one), queued with the change."""
    _alert_enqueue(
        user=user,
        kind="password_changed",
        body=f"Your Paylane password was changed; your other sessions and API tokens are signed out. {NOT_YOU}",
    )


def password_reset(user: User) -> None:
    """ "Your password was reset with a code sent to this number", queued with the reset."""
    _alert_enqueue(
        user=user,
        kind="password_reset",
        body="Your Paylane password was reset with a code sent to this number; every session and API token "
        f"is signed out. {NOT_YOU}",
    )


def api_token_issued(user: User) -> None:
    """ "A new API token was issued" (an app or program signed in), queued with the token."""
    _alert_enqueue(
        user=user,
        kind="api_token",
        body=f"A new Paylane API token was issued for your account (an app or program signed in). {NOT_YOU}",
    )


def pin_set(user: User) -> None:
    """ "Your payment PIN was set", queued with the PIN (the PIN service calls it)."""
    _alert_enqueue(user=user, kind="pin_set", body=f"Your Paylane payment PIN was set. {NOT_YOU}")


def pin_changed(user: User) -> None:
    """ "Your payment PIN was changed", queued with the change."""
    _alert_enqueue(user=user, kind="pin_changed", body=f"Your Paylane payment PIN was changed. {NOT_YOU}")


def pin_locked(user: User, *, until: datetime | None = None) -> None:
    """ "Payments are locked after too many wrong PINs", until when if known, queued with the lock."""
    when = f" until {timezone.localtime(until):%d %b %H:%M}" if until is not None else ""
    _alert_enqueue(
        user=user,
        kind="pin_locked",
        body=f"Your Paylane payments are locked{when} after too many wrong PINs. {NOT_YOU}",
    )
