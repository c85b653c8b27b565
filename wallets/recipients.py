"""Finding the account a payment is for: by user id or by mobile number.

One implementation for paying (``wallets.services.transfer_create``) and for
confirming a payee before paying (``wallets.accounts.payees``), so the two
count against one limit, ``PAYLANE_RECIPIENT_LOOKUP_RATE`` per user: a lookup
that finds nobody counts, one that finds an account is given back (paying
people you know is never limited), and over the limit every lookup is refused
before anything is looked up, so the answers cannot map which numbers have
accounts. Only active accounts with a verified number are found; any other
answers exactly as an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import QuerySet

from wallets import ratelimit
from wallets.errors import RateLimited, RecipientNotFound, ValidationFailed
from wallets.models import Profile
from wallets.phone import mobile_normalize

# The largest id a bigint primary key holds.
USER_ID_MAX = 2**63 - 1


def user_id_parse(raw: object, *, field: str = "to_user_id") -> int:
    """A user id as typed or sent (an int, or a string of digits); ``ValidationFailed`` otherwise.

    An id beyond any account is ``RecipientNotFound``, not a form error: it is a whole number.
    """
    text = str(raw).strip() if isinstance(raw, (int, str)) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        raise ValidationFailed("A user id is a whole number.", field=field)
    user_id = int(text)
    if user_id <= 0 or user_id > USER_ID_MAX:
        raise RecipientNotFound("No registered user has that id.")
    return user_id


def recipient_by_mobile(*, viewer_id: int, mobile_number: str) -> int:
    """The user id of the active account that verified ``mobile_number``, for ``viewer_id`` to pay.

    Counts against the viewer's ``PAYLANE_RECIPIENT_LOOKUP_RATE`` (a hit is
    refunded). Raises ``InvalidMobile``, ``RateLimited`` (before the lookup) or
    ``RecipientNotFound``. Reads only; the counter lives in the cache.
    """
    mobile = mobile_normalize(mobile_number)
    return _counted(
        viewer_id,
        lambda: Profile.objects.filter(mobile_number=mobile, mobile_verified_at__isnull=False, user__is_active=True),
        "No registered user has that mobile number.",
        field="mobile_number",
    )


def recipient_by_id(*, viewer_id: int, user_id: object) -> int:
    """``user_id`` if it names an active account with a verified number; counted as ``recipient_by_mobile`` is."""
    wanted = user_id_parse(user_id, field="user_id")
    return _counted(
        viewer_id,
        lambda: Profile.objects.filter(user_id=wanted, mobile_verified_at__isnull=False, user__is_active=True),
        "No registered user has that id.",
        field="user_id",
    )


def _counted(viewer_id: int, matches: Callable[[], QuerySet[Profile]], not_found: str, *, field: str) -> int:
    lookup = ratelimit.hit(ratelimit.RECIPIENT_LOOKUPS, viewer_id)
    if not lookup.allowed:
        raise RateLimited(
            "Too many payments to, or look-ups of, numbers that have no account. Paying or looking up someone "
            f"by mobile number is paused for about {lookup.retry_minutes} minute(s); you can still pay by user id.",
            retry_after=lookup.retry_after,
            field=field,
        )
    found = matches().values_list("user_id", flat=True)
    receiver_id = next(iter(found), None)
    if receiver_id is None:
        raise RecipientNotFound(not_found)
    ratelimit.refund(lookup)  # only lookups that match nobody count
    return int(receiver_id)
