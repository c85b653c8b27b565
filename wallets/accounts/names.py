"""A person's name as others may see it: masked, as UPI apps show a payee ("Ra**** Ku***").

``display_name_masked`` keeps the first two letters of each part of the first
and last name and masks the rest, one ``*`` per letter; a part of one or two
letters keeps only its first. Without a first or last name it masks the
username the same way. Written for the security alerts (the counterparty of a
payment); the payee confirmation (``wallets/accounts/payees.py``, built in
parallel) masks names by the same rule, and one of the two will become the only one.
"""

from __future__ import annotations

from wallets.models import User

KEPT = 2


def part_masked(part: str) -> str:
    """``"Kumar"`` -> ``"Ku***"``; ``"Al"`` -> ``"A*"``; ``"K"`` -> ``"K"``."""
    kept = min(KEPT, max(1, len(part) - 1))
    return part[:kept] + "*" * (len(part) - kept)


def display_name_masked(user: User) -> str:
    parts = f"{user.first_name} {user.last_name}".split()
    if not parts:
        parts = [user.username]
    return " ".join(part_masked(part) for part in parts)
