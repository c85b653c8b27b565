"""Security alerts: an SMS to the account's verified number when money moves or a credential changes.

What: money sent and money received (``transfer_committed``), a password
changed or reset (``password_changed``, ``password_reset``), a new API token
(``api_token_issued``), and a payment PIN set, changed or locked (``pin_set``,
``pin_changed``, ``pin_locked``, for the PIN service). Top-ups send none.

When: only after the COMMIT of what they report, never for a rolled-back
operation. ``transfer_committed`` is itself the callback the transfer service
registers with ``transaction.on_commit``; every other function here registers
its own, so the caller calls it inside the transaction that makes the change
(outside one, Django runs the callback at once: autocommit has committed).

To whom: the account's *verified* number only; an unverified number is not
proven to be the holder's, and none gets an alert.

How, and why that way: the message is composed on the committing thread (for
a transfer from what the transfer's own lock read, with no query; otherwise
one query for the number), then handed to Django's Tasks framework as one
task, ``alerts_deliver``. The service's backend runs it on a worker thread of
the process (``project/tasks.py``) after the operation has answered, so an SMS
backend that is slow, hangs or fails never slows or fails the operation it
reports; a failure is logged (its kind and the exception's class, never the
number or the text) and that alert is dropped. The seam for the operations
issue is ``TASKS``: a job queue with a worker and retries replaces the thread
backend, and ``alerts_deliver`` takes plain JSON that holds no secret.

An alert never carries a secret (no code, password, PIN or token): it says
what happened and what to do if it was not you. Money alerts give the amount,
the counterparty's masked name (``wallets.accounts.names``) and the balance after.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import partial

from django.db import transaction
from django.tasks import task
from django.utils import timezone

from ledger.models import Transaction
from ledger.money import money_format
from wallets.accounts.names import display_name_masked
from wallets.accounts.sms import sms_send
from wallets.models import Profile, User

logger = logging.getLogger(__name__)

NOT_YOU = "Not you? Reset your password at once (Forgot your password? on the sign-in page)."


@task
def alerts_deliver(*, kind: str, messages: list[list[str]]) -> int:
    """Send each ``[to, body]`` of one operation's alerts now; returns how many went out.

    A failure is logged and the alert dropped; the others still go. Never raises.
    """
    sent = 0
    for to, body in messages:
        try:
            sms_send(to=to, body=body)
        except Exception as exc:
            logger.warning("security alert (%s) not sent: %s", kind, type(exc).__name__)
        else:
            sent += 1
    return sent


def _enqueue(kind: str, messages: list[tuple[str, str]]) -> None:
    if not messages:
        return
    try:
        alerts_deliver.enqueue(kind=kind, messages=[[to, body] for to, body in messages])
    except Exception as exc:  # a task backend that refuses: the operation has committed, the alert is lost
        logger.warning("security alert (%s) not queued: %s", kind, type(exc).__name__)


# --- Money -------------------------------------------------------------------------------------


def transfer_committed(entry: Transaction) -> None:
    """Tell both parties of a committed SUCCESS transfer: the sender what they paid, the receiver what came in.

    Register it with ``transaction.on_commit`` (the transfer service does);
    it assumes the entry committed. Each party with a verified number gets
    one SMS: "Paid INR 120.50 to Bo* Ku***. Balance INR 879.50." / "Received
    INR 120.50 from Al***. Balance INR 1,120.50.". The entry the transfer
    service hands over carries both users with their names and numbers, read
    under its lock: then no query; an entry loaded afresh costs one.
    """
    if entry.status != Transaction.Status.SUCCESS or entry.transaction_type != Transaction.Type.TRANSFER:
        return
    sender, receiver = _parties(entry)
    amount = money_format(entry.amount, entry.currency)
    messages = []
    if to := _verified_number(sender):
        balance = money_format(entry.sender_balance_after, entry.currency)  # type: ignore[arg-type]
        messages.append((to, f"Paid {amount} to {display_name_masked(receiver)}. Balance {balance}."))
    if to := _verified_number(receiver):
        balance = money_format(entry.receiver_balance_after, entry.currency)  # type: ignore[arg-type]
        messages.append((to, f"Received {amount} from {display_name_masked(sender)}. Balance {balance}."))
    _enqueue("transfer", messages)


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


def _alert_on_commit(*, user: User, kind: str, body: str) -> None:
    """After COMMIT, look up the user's verified number (one query) and queue ``body`` for it."""
    transaction.on_commit(partial(_user_alert_send, user_id=user.pk, kind=kind, body=body), robust=True)


def _user_alert_send(*, user_id: int, kind: str, body: str) -> None:
    to = (
        Profile.objects.filter(user_id=user_id, mobile_verified_at__isnull=False)
        .values_list("mobile_number", flat=True)
        .first()
    )
    if to:
        _enqueue(kind, [(to, body)])


def password_changed(user: User) -> None:
    """After COMMIT: "your password was changed" (the person knew the old one)."""
    _alert_on_commit(
        user=user,
        kind="password_changed",
        body=f"Your Paylane password was changed; your other sessions and API tokens are signed out. {NOT_YOU}",
    )


def password_reset(user: User) -> None:
    """After COMMIT: "your password was reset with a code sent to this number"."""
    _alert_on_commit(
        user=user,
        kind="password_reset",
        body="Your Paylane password was reset with a code sent to this number; every session and API token "
        f"is signed out. {NOT_YOU}",
    )


def api_token_issued(user: User) -> None:
    """After COMMIT: "a new API token was issued" (an app or program signed in)."""
    _alert_on_commit(
        user=user,
        kind="api_token",
        body=f"A new Paylane API token was issued for your account (an app or program signed in). {NOT_YOU}",
    )


def pin_set(user: User) -> None:
    """After COMMIT: "your payment PIN was set" (for the PIN service)."""
    _alert_on_commit(user=user, kind="pin_set", body=f"Your Paylane payment PIN was set. {NOT_YOU}")


def pin_changed(user: User) -> None:
    """After COMMIT: "your payment PIN was changed" (for the PIN service)."""
    _alert_on_commit(user=user, kind="pin_changed", body=f"Your Paylane payment PIN was changed. {NOT_YOU}")


def pin_locked(user: User, *, until: datetime | None = None) -> None:
    """After COMMIT: "payments are locked after too many wrong PINs" (for the PIN service), until when if known."""
    when = f" until {timezone.localtime(until):%d %b %H:%M}" if until is not None else ""
    _alert_on_commit(
        user=user,
        kind="pin_locked",
        body=f"Your Paylane payments are locked{when} after too many wrong PINs. {NOT_YOU}",
    )
