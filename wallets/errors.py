"""Errors the wallet services raise.

Each has a stable ``code`` (the JSON API and websocket use it verbatim), a
human message and its ``http_status``: the API's answer belongs to the error,
next to its code, not in a table somewhere else. ``field`` names the form
field the error belongs to, if any. Views map them to form errors or JSON;
nothing else should reach a user.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.utils import timezone

if TYPE_CHECKING:
    from ledger.models import Transaction


class WalletError(Exception):
    code = "wallet_error"
    http_status = 400
    field: str | None = None
    default_message = "The operation was refused."

    def __init__(self, message: str | None = None, *, field: str | None = None) -> None:
        self.message = message or self.default_message
        if field is not None:
            self.field = field
        # Set when the refusal was recorded in the ledger as a FAILED entry.
        self.transaction: Transaction | None = None
        super().__init__(self.message)


class ValidationFailed(WalletError):
    code = "validation_error"
    default_message = "The input is not valid."


class InvalidAmount(WalletError):
    code = "invalid_amount"
    field = "amount"
    default_message = "Enter a valid amount."


class InvalidMobile(ValidationFailed):
    field = "mobile_number"
    default_message = "Enter a valid mobile number."


class UsernameTaken(ValidationFailed):
    field = "username"
    default_message = "That username is taken."


class MobileTaken(ValidationFailed):
    field = "mobile_number"
    default_message = "An account with that mobile number already exists."


class InsufficientFunds(WalletError):
    code = "insufficient_funds"
    http_status = 422
    field = "amount"
    default_message = "Insufficient funds."


class DailyLimitExceeded(WalletError):
    code = "daily_limit_exceeded"
    http_status = 422
    field = "amount"
    default_message = "This transfer would exceed your daily transfer limit."


class TopUpLimitExceeded(WalletError):
    code = "top_up_limit_exceeded"
    http_status = 422
    field = "amount"
    default_message = "That is more than a single top-up may add."


class RecipientNotFound(WalletError):
    code = "recipient_not_found"
    http_status = 422
    default_message = "No registered user matches that recipient."


class SelfTransfer(WalletError):
    code = "self_transfer"
    default_message = "You cannot send money to yourself."


class IdempotencyKeyReused(WalletError):
    code = "idempotency_key_reused"
    http_status = 422
    field = "Idempotency-Key"
    default_message = "This Idempotency-Key was already used with a different request."


class IdempotencyInProgress(WalletError):
    code = "idempotency_in_progress"
    http_status = 409
    field = "Idempotency-Key"
    default_message = "A request with this Idempotency-Key is still being processed; retry shortly."


class RateLimited(WalletError):
    code = "rate_limited"
    http_status = 429
    default_message = "Too many attempts. Try again later."

    def __init__(self, message: str | None = None, *, retry_after: float = 0.0, field: str | None = None) -> None:
        super().__init__(message, field=field)
        # Seconds until the limit's window ends (the API's Retry-After).
        self.retry_after = retry_after


class Busy(WalletError):
    code = "busy"
    http_status = 503
    default_message = "The service is busy and nothing was changed. Please try again in a moment."


class MobileNotVerified(WalletError):
    code = "mobile_not_verified"
    http_status = 403
    default_message = "Verify your mobile number first: a wallet moves no money until its number is proven yours."


class InvalidPassword(WalletError):
    code = "invalid_password"
    field = "current_password"
    default_message = "That is not your current password."


class InvalidCode(WalletError):
    code = "invalid_code"
    field = "code"
    default_message = "That code is not right. Check the last message we sent and try again."


class CodeExpired(WalletError):
    code = "code_expired"
    field = "code"
    default_message = "That code has expired or was used up. Ask for a new one."


class AlreadyVerified(WalletError):
    code = "already_verified"
    http_status = 409
    default_message = "Your mobile number is already verified."


class SmsUnavailable(WalletError):
    code = "sms_unavailable"
    http_status = 503
    default_message = "We could not send the message just now. Please try again in a minute."


class PinRequired(WalletError):
    code = "pin_required"
    field = "pin"
    default_message = "Enter your payment PIN."


class PinProofRequired(PinRequired):
    """A change of a PIN already set, with neither the current PIN nor a code."""

    field = "current_pin"
    default_message = "You already have a PIN: give your current PIN, or a code we send to your number, to change it."


class PinNotSet(WalletError):
    code = "pin_not_set"
    http_status = 403
    field = "pin"
    default_message = "Set a payment PIN first: every payment asks for it."


class InvalidPin(WalletError):
    code = "invalid_pin"
    http_status = 403
    field = "pin"
    default_message = "That PIN is not right."


class PinLocked(WalletError):
    """Payments are locked after too many wrong PINs in a row, until ``locked_until``, even with the right PIN."""

    code = "pin_locked"
    http_status = 423
    field = "pin"
    default_message = "Too many wrong PINs: payments are locked for a while."

    def __init__(
        self, message: str | None = None, *, locked_until: datetime, locked_now: bool = False, field: str | None = None
    ) -> None:
        super().__init__(message, field=field)
        self.locked_until = locked_until
        # This very try (a wrong PIN) locked payments; False for a try refused during a lock.
        self.locked_now = locked_now

    @property
    def retry_after(self) -> float:
        """Seconds until the lock ends (the API's Retry-After)."""
        return max(0.0, (self.locked_until - timezone.now()).total_seconds())


class WeakPin(WalletError):
    code = "weak_pin"
    field = "pin"
    default_message = (
        "That PIN is too easy to guess: not all the same digit, and not a run such as 1234 or 9876. Choose another."
    )


class RecipientUnclear(ValidationFailed):
    """A recipient lookup that names both a number and an id, or neither."""

    field = "recipient"
    default_message = "Name the recipient by mobile or by user_id (one of them)."


class PayeeNotFound(RecipientNotFound):
    """A recipient lookup (``GET /api/v1/recipients/``) that finds no verified, active account: a 404 there."""

    http_status = 404


class InvalidNote(ValidationFailed):
    field = "note"
    default_message = "A note is at most 80 characters, without control characters."


class NotRefundable(WalletError):
    code = "not_refundable"
    http_status = 403
    default_message = "This entry cannot be refunded."


class AlreadyRefunded(WalletError):
    code = "already_refunded"
    http_status = 409
    default_message = "Nothing is left to refund of this payment."


class RefundInsufficientFunds(InsufficientFunds):
    """A refund the refunding person's balance does not cover: refused, nothing recorded (a 400, not a 422)."""

    http_status = 400


class TransactionNotFound(WalletError):
    """A ledger entry that does not exist, or that the caller is not a party to (one answer for both)."""

    code = "not_found"
    http_status = 404
    default_message = "You have no transaction with that id."


class NotReversible(WalletError):
    code = "not_reversible"
    http_status = 403
    default_message = "Only a successful transfer can be reversed."


class ReversalNotAllowed(WalletError):
    """Not staff with the right permission, or the proposer deciding their own proposal (two people: ASVS 2.3.5)."""

    code = "not_allowed"
    http_status = 403
    default_message = "You may not do that with this reversal."


class ProposalClosed(WalletError):
    code = "proposal_closed"
    http_status = 409
    default_message = "This reversal proposal was already approved or refused."


class InvalidFilter(WalletError):
    """A history filter (``GET /api/v1/transactions/``, the history page) that cannot be read; ``field`` names it."""

    code = "invalid_filter"
    default_message = "That filter cannot be read."


class InvalidPeriod(ValidationFailed):
    """A statement's period that is missing, malformed, backwards, too long or not over yet (``from``/``to``)."""

    code = "invalid_period"
    default_message = "Enter the period as from and to dates, YYYY-MM-DD."


class InvalidStatementFormat(ValidationFailed):
    field = "format"
    default_message = "Choose csv or pdf."


# --- Money requests (wallets.money_requests) ------------------------------------------


class RequestNotFound(WalletError):
    """No such request, or the caller is neither its requester nor its payer."""

    code = "not_found"
    http_status = 404
    default_message = "You have no money request with that id."


class RequestWrongParty(WalletError):
    """A party doing what only the other may: the payer pays and declines, the requester cancels."""

    code = "request_wrong_party"
    http_status = 403
    default_message = "Only the payer may pay or decline a request, and only its requester may cancel it."


class RequestClosed(WalletError):
    """The request is no longer PENDING: paid, declined, cancelled or expired."""

    code = "request_closed"
    http_status = 409
    default_message = "This request is closed: it was paid, declined, cancelled, or it expired."


class SelfRequest(WalletError):
    code = "self_request"
    default_message = "You cannot ask yourself for money."


class RequestLimitExceeded(RateLimited):
    """More than ``PAYLANE_REQUEST_RATE`` requests made in the last 24 hours (counted in the database)."""

    code = "request_limit_exceeded"
    default_message = "You have made as many money requests as a day allows. Try again later."


class DatabaseUnavailable(WalletError):
    """The database connection died under the request (``wallets.database_unavailable``).

    Unlike ``Busy``, nothing says the request changed nothing: a connection lost
    during COMMIT leaves its outcome unknown. The retry with the same
    Idempotency-Key tells: the stored answer if it committed, one run if not.
    """

    code = "database_unavailable"
    http_status = 503
    retry_after = 1.0
    default_message = (
        "We lost the connection to our database while handling this request, so its outcome is not known. "
        "Retry in a moment with the same Idempotency-Key: you get the first answer if it went through, "
        "otherwise it runs once."
    )
