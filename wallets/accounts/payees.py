"""Payee confirmation: the masked name a payer sees before paying, and the name its owner sets.

A payer who types a number or an id is shown whose account it is, masked as UPI
apps mask it, and only then asked for the PIN: a mistyped digit shows a stranger's
name instead of silently paying them. The mask keeps the first two characters
of the first part of the name and the first character of each later part (one
character of a first part of two or fewer; a one-letter part, an initial, is
shown as it is) and stars the rest, one star per character, as the issue's
example shows: "Bobi Khan" is "Bo** K***", "Bobby Kumar" "Bo*** K****".
Without a first or last name the username is masked the same way, as one part.

The lookup is ``wallets.recipients``' own: the same accounts (active, number
verified; any other is indistinguishable from an unknown one) and the same
``PAYLANE_RECIPIENT_LOOKUP_RATE`` count as paying by mobile number.
"""

from __future__ import annotations

from dataclasses import dataclass

from wallets import recipients
from wallets.accounts.registration import name_part_clean
from wallets.errors import PayeeNotFound, RecipientNotFound, RecipientUnclear
from wallets.models import User


def name_part_mask(part: str, *, keep: int = 1) -> str:
    """``part`` with its first ``keep`` characters (fewer for a short part) and a star for each other one:
    ``("Bobby", keep=2)`` -> ``"Bo***"``; ``"Khan"`` -> ``"K***"``; ``"K"`` -> ``"K"``."""
    shown = min(keep, max(1, len(part) - 1))
    return part[:shown] + "*" * (len(part) - shown)


def name_mask(name: str) -> str:
    """The first whitespace-separated part of ``name`` keeps two characters, each later part one."""
    parts = name.split()
    return " ".join(name_part_mask(part, keep=2 if i == 0 else 1) for i, part in enumerate(parts))


def display_name(*, username: str, first_name: str, last_name: str) -> str:
    """What a payer sees of an account: its first and last name, or its username, masked."""
    full = " ".join(part for part in (first_name, last_name) if part.strip())
    return name_mask(full or username)


@dataclass(frozen=True)
class Payee:
    user_id: int
    display_name: str


def recipient_lookup(*, viewer: User, mobile_number: str | None = None, user_id: object = None) -> Payee:
    """Whom ``viewer`` would pay: the account with this verified number, or this id, and its masked name.

    Exactly one of ``mobile_number`` and ``user_id``. Counts against the
    viewer's ``PAYLANE_RECIPIENT_LOOKUP_RATE`` as paying by number does (a
    miss counts, a hit is given back; over the limit, refused before the
    lookup). Raises ``ValidationFailed``, ``InvalidMobile``, ``RateLimited``,
    ``PayeeNotFound`` (unknown, unverified or inactive alike). Reads only.
    """
    by_mobile, by_id = bool(mobile_number and mobile_number.strip()), user_id is not None and user_id != ""
    if by_mobile == by_id:
        raise RecipientUnclear()
    try:
        if by_mobile:
            found = recipients.recipient_by_mobile(viewer_id=viewer.pk, mobile_number=mobile_number or "")
        else:
            found = recipients.recipient_by_id(viewer_id=viewer.pk, user_id=user_id)
    except RecipientNotFound as missing:
        raise PayeeNotFound(missing.message) from None
    username, first, last = User.objects.filter(pk=found).values_list("username", "first_name", "last_name").get()
    return Payee(user_id=found, display_name=display_name(username=username, first_name=first, last_name=last))


@dataclass(frozen=True)
class DisplayName:
    first_name: str
    last_name: str
    masked: str


def display_name_set(*, user: User, first_name: str | None, last_name: str | None) -> DisplayName:
    """Set the first and last name payers see (masked) before they pay ``user``; empty ones show the username.

    Transaction: the one UPDATE of the user's row (autocommit). Locks: that
    row, for the UPDATE. Raises ``ValidationFailed`` naming the field (over 150
    characters). Returns the names as stored and as payers will see them.
    """
    first, last = name_part_clean(first_name, "first_name"), name_part_clean(last_name, "last_name")
    User.objects.filter(pk=user.pk).update(first_name=first, last_name=last)
    user.first_name, user.last_name = first, last
    return DisplayName(first, last, display_name(username=user.username, first_name=first, last_name=last))
