"""Websocket frames: every shape the server sends, typed in one place.

The ``transaction`` object inside a frame is ``wallets.payloads.transaction_payload``,
the same one the JSON API returns; this module only wraps it with the party's
own figures. Amounts are strings with two decimals.
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from ledger.models import Transaction
from ledger.money import ZERO, money_str
from wallets.payloads import TransactionPayload, transaction_payload
from wallets.request_payloads import RequestPayload

# Close code for a socket without a valid credential: at the handshake, or once it
# is revoked (the 4xxx range is the application's).
CLOSE_UNAUTHENTICATED = 4401
# Close code when the channel layer is unreachable at connect: try again later.
CLOSE_TRY_AGAIN = 1013


class HelloFrame(TypedDict):
    type: Literal["hello"]
    user_id: int
    balance: str
    version: int
    last_seq: int
    # Extra: what the dashboard shows as "left to send today".
    remaining_today: str


class TransactionFrame(TypedDict):
    type: Literal["transaction"]
    seq: int
    version: int
    balance: str
    transaction: TransactionPayload
    # Extra, live events to the sender only: the sender's remaining daily limit just after the commit.
    remaining_today: NotRequired[str]


class RequestFrame(TypedDict):
    """A money request was made (to its payer) or changed status (to both parties): the request object.

    Not part of the ledger's sequence (no ``seq``): a client that missed one
    reads ``GET /api/v1/requests/`` again."""

    type: Literal["request"]
    request: RequestPayload


class ResumedFrame(TypedDict):
    type: Literal["resumed"]
    last_seq: int
    # Extra: the remaining daily limit at the end of the replay.
    remaining_today: str


class PongFrame(TypedDict):
    type: Literal["pong"]
    version: int
    # Extra: the remaining daily limit now (it resets at midnight without any event).
    remaining_today: str


class ErrorFrame(TypedDict):
    type: Literal["error"]
    code: Literal["bad_frame", "unknown_type"]
    message: str


class TransactionMessage(TypedDict):
    """What ``realtime.notify`` puts on a user's group (channel-layer message, not a frame)."""

    type: Literal["wallet.transaction"]
    user_id: int
    frame: TransactionFrame


class RequestMessage(TypedDict):
    """What ``realtime.notify.request_changed`` puts on a party's group."""

    type: Literal["wallet.request"]
    user_id: int
    frame: RequestFrame


class RevokedMessage(TypedDict):
    """What ``realtime.notify.credentials_revoked`` puts on a user's group: close these sockets."""

    type: Literal["wallet.revoked"]
    user_id: int
    # The credential's name (``wallets.accounts.credentials.Credential.name``), or None: all of the user's.
    credential: str | None


def party_figures(entry: Transaction, user_id: int) -> tuple[str, int]:
    """``user_id``'s balance (as a string) and version after ``entry``."""
    if entry.sender_id == user_id:
        balance, version = entry.sender_balance_after, entry.sender_version_after
    elif entry.receiver_id == user_id:
        balance, version = entry.receiver_balance_after, entry.receiver_version_after
    else:
        raise ValueError(f"user {user_id} is not a party to entry {entry.pk}")
    return money_str(balance if balance is not None else ZERO), version or 0


def transaction_frame(
    entry: Transaction, user_id: int, *, payload: TransactionPayload | None = None
) -> TransactionFrame:
    """The ``transaction`` frame for one party. Select ``sender`` and ``receiver`` with the entry.

    ``payload``: ``transaction_payload(entry)`` when the caller already has it (both parties'
    frames share one; nothing changes it afterwards)."""
    balance, version = party_figures(entry, user_id)
    return {
        "type": "transaction",
        "seq": entry.pk,
        "version": version,
        "balance": balance,
        "transaction": payload if payload is not None else transaction_payload(entry),
    }


def error_frame(code: Literal["bad_frame", "unknown_type"], message: str) -> ErrorFrame:
    return {"type": "error", "code": code, "message": message}
