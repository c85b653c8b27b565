"""Money requests: writes. One person asks another for money; only the payer can make it move.

Every entry point validates first, then runs one durable transaction; pushes
(``realtime.notify.request_changed``: the payer on creation, both parties on
every status change) leave only after COMMIT. Status changes happen under the
request row's lock (``SELECT ... FOR UPDATE``), so a request leaves PENDING
once, whatever races it.

Paying is an ordinary transfer from the payer to the requester
(``wallets.services.transfer_apply``), run inside the transaction that locked
the request FIRST and then marks it PAID: two payments of one request queue on
its row, and the second finds it PAID (``RequestClosed``) before it touches a
wallet. The transfer's checks, limits, FAILED rows, alerts and push are the
transfer's own.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from ledger.models import Transaction
from realtime import notify
from wallets import recipients, services
from wallets.accounts import pins
from wallets.busy import busy_on_timeout
from wallets.errors import (
    DailyLimitExceeded,
    InsufficientFunds,
    MobileNotVerified,
    RecipientNotFound,
    RequestClosed,
    RequestLimitExceeded,
    RequestNotFound,
    RequestWrongParty,
    SelfRequest,
    ValidationFailed,
    WalletError,
)
from wallets.models import Profile, User, Wallet
from wallets.money import amount_parse
from wallets.notes import note_clean
from wallets.observe import movement_observed
from wallets.payloads import entry_request_set
from wallets.request_models import MoneyRequest, RequestMute
from wallets.services import OnRecorded

Status = MoneyRequest.Status
# The window PAYLANE_REQUEST_RATE counts in.
RATE_WINDOW = timedelta(days=1)
# Requests the expiry job closes per transaction.
EXPIRE_BATCH = 500


def request_create(
    *, requester: User, amount: object, to_user_id: object = None, to_mobile: str | None = None, note: str = ""
) -> MoneyRequest:
    """``requester`` asks a verified account (by user id or mobile number) for ``amount``, with an optional note.

    Transaction: one, durable. Locks: the requester's wallet row (so racing
    requests of one person are counted one after the other). Checks: the
    requester's number is verified; the payer is an active account with a
    verified number that has not muted the requester (otherwise, as for an
    unknown account, ``RecipientNotFound``); at most ``PAYLANE_REQUEST_RATE``
    requests by the requester in the last 24 hours, counted in the database
    (``RequestLimitExceeded``). Side effects: one PENDING ``MoneyRequest``
    expiring ``PAYLANE_REQUEST_TTL`` after now; after commit, a ``request``
    frame to the payer. A number with no account counts against
    ``PAYLANE_RECIPIENT_LOOKUP_RATE`` as for a transfer.
    """
    value = amount_parse(amount)
    text = note_clean(note)
    if (to_user_id is None) == (to_mobile is None or to_mobile == ""):
        raise ValidationFailed("Name the payer by user id or by mobile number (one of them).", field="recipient")
    if to_mobile:
        payer_id = recipients.recipient_by_mobile(viewer_id=requester.pk, mobile_number=to_mobile)
    else:
        payer_id = recipients.user_id_parse(to_user_id)
    if payer_id == requester.pk:
        raise SelfRequest()
    with busy_on_timeout():
        return _request_create_commit(requester_id=requester.pk, payer_id=payer_id, amount=value, note=text)


@transaction.atomic(durable=True)
def _request_create_commit(*, requester_id: int, payer_id: int, amount: Decimal, note: str) -> MoneyRequest:
    wallet = Wallet.objects.select_for_update(of=("self",)).filter(user_id=requester_id, user__is_active=True).first()
    if wallet is None:
        raise ValidationFailed("Your account cannot ask for money.", field="recipient")
    if not Profile.objects.filter(user_id=requester_id, mobile_verified_at__isnull=False).exists():
        raise MobileNotVerified()
    payer_found = Profile.objects.filter(
        user_id=payer_id, mobile_verified_at__isnull=False, user__is_active=True, user__wallet__isnull=False
    ).exists()
    # A payer who muted the requester answers exactly as an unknown account: the mute stays private.
    if not payer_found or RequestMute.objects.filter(payer_id=payer_id, requester_id=requester_id).exists():
        raise RecipientNotFound("No registered user matches that payer.")
    now = timezone.now()
    recent = MoneyRequest.objects.filter(requester_id=requester_id, created_at__gt=now - RATE_WINDOW)
    if recent.count() >= settings.PAYLANE_REQUEST_RATE:
        oldest = recent.order_by("created_at").values_list("created_at", flat=True).first()
        retry_after = ((oldest or now) + RATE_WINDOW - now).total_seconds()
        raise RequestLimitExceeded(
            f"You can make at most {settings.PAYLANE_REQUEST_RATE} money requests in 24 hours. Try again later.",
            retry_after=max(retry_after, 1.0),
        )
    money_request = MoneyRequest.objects.create(
        requester_id=requester_id,
        payer_id=payer_id,
        amount=amount,
        note=note,
        created_at=now,
        expires_at=now + settings.PAYLANE_REQUEST_TTL,
    )
    transaction.on_commit(partial(notify.request_changed, money_request.pk, to=(payer_id,)), robust=True)
    return money_request


def _request_for_party(*, user_id: int, request_id: int) -> MoneyRequest:
    """The request (unlocked), if ``user_id`` is its requester or payer; ``RequestNotFound`` otherwise."""
    found = MoneyRequest.objects.filter(pk=request_id).first() if 0 < request_id < 2**63 else None
    if found is None or user_id not in (found.requester_id, found.payer_id):
        raise RequestNotFound()
    return found


def _open_or_refuse(money_request: MoneyRequest, *, now: datetime) -> None:
    """Refuse a request that is not PENDING; one found past its time is marked EXPIRED first (committed)."""
    if money_request.status == Status.PENDING and money_request.expires_at > now:
        return
    if money_request.status == Status.PENDING:
        requests_expire(ids=[money_request.pk])
    raise RequestClosed()


@sensitive_variables("pin")
@movement_observed(Transaction.Type.TRANSFER, actor="payer")
def request_pay(*, payer: User, request_id: int, pin: object, on_recorded: OnRecorded | None = None) -> Transaction:
    """Pay a PENDING request of which ``payer`` is the payer: an ordinary transfer to its requester, linked to it.

    Refusals before anything moves: ``RequestNotFound`` (no such request, or
    not a party), ``RequestWrongParty`` (the requester), ``RequestClosed`` (paid,
    declined, cancelled or expired; an expired one is marked EXPIRED), then
    the PIN's (``pins.pin_verify``, its own durable transaction, as every
    payment). Transaction: one, durable. Locks: the request row FIRST, then
    both wallets (ascending id, ``transfer_apply``). Under the request's lock
    it is checked again to be PENDING and unexpired, the transfer runs with its
    every check (funds, daily limit, a verified active requester), and the
    request becomes PAID naming the entry. Side effects: the transfer's (its
    push, its alerts, ``on_recorded``); after commit, a ``request`` frame to
    both. A refusal for funds or the limit is recorded as a FAILED transfer
    (as ``transfer_create`` does) and leaves the request PENDING.
    """
    found = _request_for_party(user_id=payer.pk, request_id=request_id)
    if found.payer_id != payer.pk:
        raise RequestWrongParty("Only the person asked for the money can pay a request.")
    _open_or_refuse(found, now=timezone.now())
    pins.pin_verify(user=payer, pin=pin)
    with busy_on_timeout():
        try:
            return _request_pay_commit(payer_id=payer.pk, request_id=found.pk, on_recorded=on_recorded)
        except RequestClosed:
            _open_or_refuse(MoneyRequest.objects.get(pk=found.pk), now=timezone.now())
            raise
        except (InsufficientFunds, DailyLimitExceeded) as refusal:
            services.transfer_failed_record(
                sender_id=payer.pk,
                receiver_id=found.requester_id,
                amount=found.amount,
                note=found.note,
                reason=refusal,
                on_recorded=on_recorded,
            )
            raise


@transaction.atomic(durable=True)
def _request_pay_commit(*, payer_id: int, request_id: int, on_recorded: OnRecorded | None) -> Transaction:
    money_request = MoneyRequest.objects.select_for_update().get(pk=request_id)
    if money_request.status != Status.PENDING or money_request.expires_at <= timezone.now():
        raise RequestClosed()

    def recorded(entry: Transaction, refusal: WalletError | None) -> None:
        # The answer an Idempotency-Key stores is rendered here: it must already name the request.
        entry_request_set(entry, money_request.pk)
        if on_recorded is not None:
            on_recorded(entry, refusal)

    entry = services.transfer_apply(
        sender_id=payer_id,
        receiver_id=money_request.requester_id,
        amount=money_request.amount,
        note=money_request.note,
        on_recorded=recorded,
    )
    money_request.status = Status.PAID
    money_request.paid_entry = entry
    money_request.closed_at = entry.created_at
    money_request.save(update_fields=["status", "paid_entry", "closed_at"])
    transaction.on_commit(
        partial(notify.request_changed, money_request.pk, to=(money_request.payer_id, money_request.requester_id)),
        robust=True,
    )
    return entry


def request_decline(*, payer: User, request_id: int) -> MoneyRequest:
    """The payer says no: a PENDING request becomes DECLINED.

    Transaction: one, durable. Locks: the request row. Refusals:
    ``RequestNotFound``, ``RequestWrongParty`` (the requester: cancel instead),
    ``RequestClosed``. Side effects: after commit, a ``request`` frame to both.
    """
    return _request_close(user_id=payer.pk, request_id=request_id, role="payer", status=Status.DECLINED)


def request_cancel(*, requester: User, request_id: int) -> MoneyRequest:
    """The requester takes it back: a PENDING request becomes CANCELLED.

    Transaction: one, durable. Locks: the request row. Refusals:
    ``RequestNotFound``, ``RequestWrongParty`` (the payer: decline instead),
    ``RequestClosed``. Side effects: after commit, a ``request`` frame to both.
    """
    return _request_close(user_id=requester.pk, request_id=request_id, role="requester", status=Status.CANCELLED)


def _request_close(*, user_id: int, request_id: int, role: str, status: str) -> MoneyRequest:
    found = _request_for_party(user_id=user_id, request_id=request_id)
    owner = found.payer_id if role == "payer" else found.requester_id
    if owner != user_id:
        raise RequestWrongParty(
            "Only the person asked can decline a request."
            if role == "payer"
            else "Only the person who asked can cancel a request."
        )
    with busy_on_timeout():
        try:
            return _request_close_commit(request_id=found.pk, status=status)
        except RequestClosed:
            _open_or_refuse(MoneyRequest.objects.get(pk=found.pk), now=timezone.now())
            raise


@transaction.atomic(durable=True)
def _request_close_commit(*, request_id: int, status: str) -> MoneyRequest:
    money_request = MoneyRequest.objects.select_for_update().get(pk=request_id)
    now = timezone.now()
    if money_request.status != Status.PENDING or money_request.expires_at <= now:
        raise RequestClosed()
    money_request.status = status
    money_request.closed_at = now
    money_request.save(update_fields=["status", "closed_at"])
    transaction.on_commit(
        partial(notify.request_changed, money_request.pk, to=(money_request.payer_id, money_request.requester_id)),
        robust=True,
    )
    return money_request


def requests_expire(*, ids: list[int] | None = None, now: datetime | None = None) -> int:
    """Mark PENDING requests past ``expires_at`` EXPIRED (all of them, or those of ``ids``); return how many.

    Transactions: one durable transaction per batch of ``EXPIRE_BATCH``. Locks:
    the batch's request rows (``SKIP LOCKED`` on PostgreSQL: a row being paid or
    declined right now is left to that writer, which sees the time itself).
    Side effects: after each commit, a ``request`` frame to both parties of
    each. The periodic job ``expire_requests`` calls it hourly; every write
    that meets an expired request calls it for that one.
    """
    moment = now or timezone.now()
    total = 0
    while True:
        with busy_on_timeout():
            closed = _expire_batch(ids=ids, now=moment)
        total += closed
        if closed < EXPIRE_BATCH:
            return total


@transaction.atomic(durable=True)
def _expire_batch(*, ids: list[int] | None, now: datetime) -> int:
    due = MoneyRequest.objects.filter(status=Status.PENDING, expires_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    rows = list(due.select_for_update(skip_locked=True).order_by("pk")[:EXPIRE_BATCH])
    for money_request in rows:
        money_request.status = Status.EXPIRED
        money_request.closed_at = now
        money_request.save(update_fields=["status", "closed_at"])
        transaction.on_commit(
            partial(notify.request_changed, money_request.pk, to=(money_request.payer_id, money_request.requester_id)),
            robust=True,
        )
    return len(rows)


# --- Mutes ----------------------------------------------------------------------------


def request_mute(*, payer: User, requester_id: object) -> RequestMute:
    """``payer`` accepts no more requests from ``requester_id``: theirs answer as if ``payer`` had no account.

    Transaction: one, durable. Locks: none (the unique (payer, requester)
    index makes a second mute find the first). Requests already PENDING stay
    (decline them). Refusals: ``SelfRequest`` (yourself), ``RecipientNotFound``
    (no such active account). Idempotent: muting twice keeps the first mute.
    """
    user_id = recipients.user_id_parse(requester_id, field="user_id")
    if user_id == payer.pk:
        raise SelfRequest("You cannot mute yourself.")
    with transaction.atomic(durable=True):
        if not User.objects.filter(pk=user_id, is_active=True).exists():
            raise RecipientNotFound("No registered user has that id.")
        mute, _ = RequestMute.objects.get_or_create(payer_id=payer.pk, requester_id=user_id)
    return mute


def request_unmute(*, payer: User, requester_id: int) -> bool:
    """Lift ``payer``'s mute of ``requester_id``; False when there was none. Transaction: the ORM's DELETE."""
    deleted, _ = RequestMute.objects.filter(payer_id=payer.pk, requester_id=requester_id).delete()
    return deleted > 0
