"""Money requests: reads."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q, QuerySet
from django.utils import timezone

from ledger.models import Transaction
from wallets.payloads import entry_request_set
from wallets.request_models import MoneyRequest, RequestMute

Status = MoneyRequest.Status
DIRECTIONS = ("incoming", "outgoing")


def requests_for_user(
    *, user_id: int, direction: str | None = None, status: str | None = None
) -> QuerySet[MoneyRequest]:
    """The requests ``user_id`` made (outgoing) or was asked to pay (incoming), or both; newest first.

    ``status`` filters as readers see it: PENDING means not yet expired, EXPIRED
    includes PENDING rows past their time (the expiry job may not have run yet).
    """
    if direction == "incoming":
        rows = MoneyRequest.objects.filter(payer_id=user_id)
    elif direction == "outgoing":
        rows = MoneyRequest.objects.filter(requester_id=user_id)
    else:
        rows = MoneyRequest.objects.filter(Q(payer_id=user_id) | Q(requester_id=user_id))
    now = timezone.now()
    if status == Status.PENDING:
        rows = rows.filter(status=Status.PENDING, expires_at__gt=now)
    elif status == Status.EXPIRED:
        rows = rows.filter(Q(status=Status.EXPIRED) | Q(status=Status.PENDING, expires_at__lte=now))
    elif status is not None:
        rows = rows.filter(status=status)
    return rows.select_related("requester", "payer").order_by("-id")


def requests_page_for_user(
    *, user_id: int, direction: str | None = None, status: str | None = None, before_id: int | None, limit: int
) -> list[MoneyRequest]:
    """A keyset page (ids below ``before_id``) of ``requests_for_user``."""
    rows = requests_for_user(user_id=user_id, direction=direction, status=status)
    if before_id is not None:
        rows = rows.filter(id__lt=before_id)
    return list(rows[:limit])


def request_for_user(*, user_id: int, request_id: int) -> MoneyRequest | None:
    """One request, if ``user_id`` is its requester or its payer."""
    if not 0 < request_id < 2**63:
        return None
    return (
        MoneyRequest.objects.filter(Q(payer_id=user_id) | Q(requester_id=user_id), pk=request_id)
        .select_related("requester", "payer")
        .first()
    )


def pending_incoming(*, user_id: int, limit: int = 20) -> list[MoneyRequest]:
    """What ``user_id`` is asked to pay and still can, newest first (the dashboard's list)."""
    return list(requests_for_user(user_id=user_id, direction="incoming", status=Status.PENDING)[:limit])


def mutes_for_user(*, user_id: int) -> QuerySet[RequestMute]:
    return RequestMute.objects.filter(payer_id=user_id).select_related("requester").order_by("-id")


def entries_requests_attach(entries: Sequence[Transaction]) -> None:
    """Tell each TRANSFER entry which request it paid, if any: one query for all of them (none without transfers)."""
    transfers = [e for e in entries if e.transaction_type == Transaction.Type.TRANSFER]
    paid: dict[int, int] = {}
    if transfers:
        rows = MoneyRequest.objects.filter(paid_entry_id__in=[e.pk for e in transfers])
        paid = {entry_id: request_id for request_id, entry_id in rows.values_list("id", "paid_entry_id")}
    for entry in entries:
        entry_request_set(entry, paid.get(entry.pk))
