"""What a money movement tells operations: one log line and its counters, written where the outcome is known.

The wallet services are the one place every movement passes (pages, API,
scripts and benchmarks alike), so each call is observed there, once:

* ``money_moved`` (INFO) for a movement, with its ledger id;
* ``money_refused`` (INFO) for a refusal, with its error code, and the
  ledger id of the FAILED row when the refusal was recorded (insufficient
  funds, over the daily limit);
* ``paylane_money_movements_total{type, outcome, reason}`` and, for
  transfers, ``paylane_transfer_duration_seconds{outcome}``.

A replayed ``Idempotency-Key`` or form token never reaches the service, so it
logs and counts nothing: the movement was logged when it happened. Refusals
made before the service (a malformed body, a rate limit) show in the request's
own line (its status) and in ``paylane_rate_limited_total``. Never logged: the
raw input of a refused call (a person may type anything into an amount field),
and of course no credential.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, ParamSpec

import structlog

from ledger.models import Transaction
from ledger.money import money_str
from telemetry.metrics import MONEY_MOVEMENTS, TRANSFER_SECONDS
from wallets.errors import WalletError

logger = structlog.get_logger("paylane.money")

P = ParamSpec("P")


def movement_observed(kind: str, *, actor: str) -> Callable[[Callable[P, Transaction]], Callable[P, Transaction]]:
    """Observe a money service: ``kind`` is the ledger type it appends; ``actor`` names its keyword
    argument holding the user who asked (the payer of a transfer, the owner of a top-up)."""
    type_label = kind.lower()

    def decorate(service: Callable[P, Transaction]) -> Callable[P, Transaction]:
        @functools.wraps(service)
        def observed(*args: P.args, **kwargs: P.kwargs) -> Transaction:
            started = time.perf_counter()
            user: Any = kwargs.get(actor)
            try:
                entry = service(*args, **kwargs)
            except WalletError as refusal:
                recorded = refusal.transaction
                outcome = "failed" if recorded is not None else "refused"
                _count(kind, type_label, outcome, refusal.code, started)
                logger.info(
                    "money_refused",
                    type=type_label,
                    outcome=outcome,
                    code=refusal.code,
                    ledger_id=recorded.pk if recorded is not None else None,
                    user_id=getattr(user, "pk", None),
                )
                raise
            _count(kind, type_label, "success", "", started)
            logger.info(
                "money_moved",
                type=type_label,
                ledger_id=entry.pk,
                amount=money_str(entry.amount),
                currency=entry.currency,
                sender_id=entry.sender_id,
                receiver_id=entry.receiver_id,
            )
            return entry

        return observed

    return decorate


def _count(kind: str, type_label: str, outcome: str, reason: str, started: float) -> None:
    MONEY_MOVEMENTS.labels(type_label, outcome, reason).inc()
    if kind == Transaction.Type.TRANSFER:
        TRANSFER_SECONDS.labels(outcome).observe(time.perf_counter() - started)
