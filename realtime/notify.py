"""The one place that pushes to Channels groups.

Called only through ``transaction.on_commit(..., robust=True)`` by the wallet
services and the credential revocations (``wallets.accounts``), so nothing
leaves the process before COMMIT and a push failure never turns a committed
transfer into an error.

Revocations (``credentials_revoked``) are the exception to everything below:
they are sent at once, on the committing thread, and waited for.

A push is a hint, not the truth: the channel layer is at-most-once, and a
client that misses one sees a version gap and resumes from the ledger. So a
push never waits on, or fails, the transfer that caused it:

* With a cross-process layer (channels-redis) every push is handed to the
  process's pusher thread (``realtime.pusher``: a bounded queue, pipelined
  PUBLISHes) and the committing thread returns at once. ``async_to_sync(group_send)``
  per call would open a fresh Redis connection pool each time (a new loop each
  call) and cut transfer throughput by about two thirds.
* The in-memory layer (tests, single-process development) lives in the event
  loop of its consumers, so there it is called on that loop with
  ``async_to_sync``, which runs the send on the outer loop when the service was
  called from ``sync_to_async``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer

from ledger.money import money_str
from realtime.events import RequestFrame, RequestMessage, RevokedMessage, TransactionMessage, transaction_frame
from realtime.pusher import Pusher
from telemetry.metrics import PUSH_SECONDS, PUSHES_DROPPED
from wallets.models import MoneyRequest, User, Wallet
from wallets.payloads import transaction_payload
from wallets.request_payloads import request_payload
from wallets.selectors import wallet_remaining_today

if TYPE_CHECKING:
    from ledger.models import Transaction

logger = logging.getLogger(__name__)

# What goes on a user's group through the pusher.
Message = TransactionMessage | RequestMessage

# How long a revoking request waits for the channel layer before it answers anyway.
REVOKE_TIMEOUT = 1.0


def user_group(user_id: int) -> str:
    """The Channels group of every open socket of one user."""
    return f"wallet.{user_id}"


def transaction_committed(entry: Transaction) -> None:
    """Tell the parties of the committed ``entry`` about it, each with their own balance and version.

    Sender and receiver both get a SUCCESS entry; a FAILED attempt goes to its
    sender only; an ADD_MONEY entry to its receiver. The sender's frame also
    carries ``remaining_today`` as of this entry. The entry the transfer and
    top-up services hand over already carries its parties' users, and the
    sender's user its wallet as this entry left it: then no query at all.
    Otherwise (a FAILED attempt, an entry loaded afresh) one query, for the
    parties' usernames and the sender's limit together. Never raises for a
    channel-layer failure and never waits on it. Each message's time from this
    call (right after COMMIT) to the layer accepting it is
    ``paylane_push_commit_to_publish_seconds``.
    """
    committed = time.monotonic()
    parties = [entry.sender_id] if entry.sender_id else []
    if entry.status == entry.Status.SUCCESS:
        parties.append(entry.receiver_id)
    wallets = _parties_load(entry)
    messages: list[tuple[str, TransactionMessage]] = []
    payload = transaction_payload(entry)  # the same object in both parties' frames
    for user_id in parties:
        frame = transaction_frame(entry, user_id, payload=payload)
        if user_id == entry.sender_id:
            frame["remaining_today"] = money_str(wallet_remaining_today(wallet=wallets[user_id]))
        messages.append((user_group(user_id), {"type": "wallet.transaction", "user_id": user_id, "frame": frame}))
    _push(messages, committed=committed)


def request_changed(request_id: int, *, to: tuple[int, ...]) -> None:
    """Tell ``to`` (user ids: the payer of a new request, both parties of a status change) about
    money request ``request_id`` as it now stands: a ``request`` frame each.

    Called through ``transaction.on_commit`` by ``wallets.money_requests``. One
    query (the request with both parties), so the frame shows the committed
    state even when two changes commit close together. Never raises for a
    channel-layer failure and never waits on it.
    """
    committed = time.monotonic()
    money_request = MoneyRequest.objects.select_related("requester", "payer").filter(pk=request_id).first()
    if money_request is None:
        return
    frame: RequestFrame = {"type": "request", "request": request_payload(money_request)}
    messages: list[tuple[str, Message]] = [
        (user_group(user_id), {"type": "wallet.request", "user_id": user_id, "frame": frame}) for user_id in to
    ]
    _push(messages, committed=committed)


def credentials_revoked(*, user_id: int, credential: str | None) -> None:
    """Close the user's sockets opened with ``credential`` (a credential's name; None: all of them), everywhere.

    Unlike a push this is not handed to the pusher: it is sent on the calling
    thread, which waits until the channel layer has it (Redis has published it
    to every process). The revoking request answers only after that, and a
    transfer made after the answer is published after it; Redis delivers the
    two to each process, and Channels to each socket, in that order, so the
    socket closes before that transfer could reach it. Gives up after
    ``REVOKE_TIMEOUT`` (Redis down): the sockets then close at their next ping
    or resume, which check the credential in the database. Never raises.
    """
    layer = get_channel_layer()
    if layer is None:
        return
    group = user_group(user_id)
    message: RevokedMessage = {"type": "wallet.revoked", "user_id": user_id, "credential": credential}
    try:
        # On daphne this runs on the server's own loop (the request's thread came
        # from it), where the layer's Redis connections already are.
        async_to_sync(_send_within)(layer, group, message, REVOKE_TIMEOUT)
    except Exception as exc:
        logger.warning("revocation for %s not published (sockets close at their next ping or resume): %r", group, exc)


async def _send_within(layer: BaseChannelLayer, group: str, message: RevokedMessage, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        await layer.group_send(group, message)


def _parties_load(entry: Transaction) -> dict[int, Wallet]:
    """Put both parties' users on ``entry``; return the sender's wallet (for its limit) by user id."""
    sender = entry.sender if type(entry).sender.is_cached(entry) else None
    receiver_loaded = type(entry).receiver.is_cached(entry)
    sender_loaded = entry.sender_id is None or (sender is not None and User.wallet.is_cached(sender))
    if receiver_loaded and sender_loaded:
        return {sender.pk: sender.wallet} if sender is not None else {}
    party_ids = [pk for pk in (entry.receiver_id, entry.sender_id) if pk is not None]
    rows = User.objects.filter(pk__in=party_ids).values_list(
        "id", "username", "wallet__spent_on", "wallet__spent_today", "wallet__daily_limit"
    )
    users: dict[int, User] = {}
    wallets: dict[int, Wallet] = {}
    for user_id, username, spent_on, spent_today, daily_limit in rows:
        users[user_id] = User(id=user_id, username=username)
        wallets[user_id] = Wallet(user_id=user_id, spent_on=spent_on, spent_today=spent_today, daily_limit=daily_limit)
    entry.receiver = users[entry.receiver_id]
    if entry.sender_id is not None:
        entry.sender = users[entry.sender_id]
    return wallets


def _push(messages: Sequence[tuple[str, Message]], *, committed: float) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        for group, message in messages:
            try:
                async_to_sync(layer.group_send)(group, message)
            except Exception:
                PUSHES_DROPPED.labels("error").inc()
                logger.exception("push to %s failed", group)
            else:
                PUSH_SECONDS.observe(time.monotonic() - committed)
        return
    Pusher.get(layer).submit(messages, committed=committed)
