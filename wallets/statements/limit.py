"""How many statements a user may download: ``PAYLANE_STATEMENT_RATE``, the API and the page together."""

from __future__ import annotations

from wallets import ratelimit
from wallets.errors import RateLimited


def statement_rate_hit(*, user_id: int) -> None:
    """Count one statement for ``user_id``, or raise ``RateLimited`` over the rate (nothing is read then).

    Counted after the period and format are checked, so a typo costs nothing; each statement
    reads up to a year of the ledger. Side effects: one counter in the cache.
    """
    decision = ratelimit.hit(ratelimit.STATEMENTS, user_id)
    if not decision.allowed:
        raise RateLimited(
            f"Too many statements asked for. Try again in about {decision.retry_minutes} minute(s).",
            retry_after=decision.retry_after,
        )
