"""Idempotency keys for the money-moving API calls (Stripe's semantics).

The first request with a key runs once. Its outcome, if it is a business
outcome (a movement, or a refusal the ledger recorded as FAILED), is stored
with the key by the wallet service's ``on_recorded`` hook, inside the very
transaction that appends the ledger row: no crash leaves one without the other.
A retry with the same key and body gets the stored status and body and moves
nothing; the same key with another body or endpoint gets
``IdempotencyKeyReused``. Validation failures store nothing, so the client can
fix the request and retry with the same key.

Racing retries: the unique (user, key) index decides. The loser's INSERT waits
for the winner's transaction (PostgreSQL; SQLite serialises writers at BEGIN),
then fails; its whole movement rolls back and it answers with the winner's
stored outcome.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import MAX_EMAX, MIN_EMIN, Context, Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from ledger.models import Transaction
from ledger.statements import Insert, Statement
from wallets.errors import IdempotencyInProgress, IdempotencyKeyReused, ValidationFailed, WalletError
from wallets.models import IdempotencyKey, User
from wallets.services import OnRecorded

KEY_MAX_LENGTH = 255
# Printable ASCII, not starting or ending with a space (HTTP strips those). Header bytes beyond
# ASCII are obsolete in HTTP and decoded differently by servers and proxies, so a key made of
# them would not be the same key everywhere. The OpenAPI schema states this pattern.
KEY_PATTERN = rf"[!-~](?:[ -~]{{0,{KEY_MAX_LENGTH - 2}}}[!-~])?"
_KEY = re.compile(KEY_PATTERN)

# (status, body) for a recorded outcome: a SUCCESS row, or a FAILED row and its refusal.
Render = Callable[[Transaction, WalletError | None], tuple[int, dict[str, Any]]]
# Runs the service, passing ``on_recorded`` through (None when there is no key).
Perform = Callable[[OnRecorded | None], Transaction]


@dataclass(frozen=True)
class Outcome:
    status: int
    body: dict[str, Any]
    replayed: bool = False


def key_parse(raw: str | None) -> str | None:
    """The ``Idempotency-Key`` header's value, or None when it is absent."""
    if raw is None:
        return None
    if not _KEY.fullmatch(raw):
        raise ValidationFailed(
            f"An Idempotency-Key is 1 to {KEY_MAX_LENGTH} printable ASCII characters.", field="Idempotency-Key"
        )
    return raw


# Top-level fields of a body that never enter its fingerprint: secrets. A SHA-256 of a body whose
# only unknown is a 4-digit payment PIN gives the PIN back in 10,000 tries (and the table is kept
# for a day at least). Retries with another PIN are the same request: see ``idempotent_call``.
UNFINGERPRINTED = frozenset({"pin"})


def body_fingerprint(*, endpoint: str, body: object) -> str:
    """SHA-256 of the parsed JSON body, its secrets aside: key order, spacing and ``1.0`` vs ``1.00`` do not matter."""
    if isinstance(body, dict):
        body = {name: value for name, value in body.items() if name not in UNFINGERPRINTED}
    canonical = json.dumps([endpoint, _canonical(body)], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value: object) -> Any:
    # Tagged, so that a string "1", a number 1 and a list never compare equal.
    if value is None:
        return ["z"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int | Decimal):
        number = Decimal(value)
        precision = max(28, len(number.as_tuple().digits))
        # Unbounded exponent: a body may carry 1e999999999, which the default context overflows on.
        return ["n", str(number.normalize(Context(prec=precision, Emax=MAX_EMAX, Emin=MIN_EMIN)))]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, list | tuple):
        return ["l", [_canonical(v) for v in value]]
    if isinstance(value, dict):
        return ["d", {str(k): _canonical(v) for k, v in value.items()}]
    return ["o", repr(value)]


# Both run on every money request with a key: compiled once per database alias (ledger/statements.py),
# as the transfer's own statements are, instead of by the ORM on every call.
_LOOKUP = Statement(
    lambda user_id, key: IdempotencyKey.objects.filter(user_id=user_id, key=key).values_list(
        "fingerprint", "status_code", "response_body"
    ),
    user_id=-1,
    key="\x00stand-in idempotency key",
)
_INSERT = Insert(IdempotencyKey)


@dataclass
class _Recorder:
    """The ``on_recorded`` hook: stores the key with the outcome, inside the service's transaction."""

    user_id: int
    key: str
    endpoint: str
    fingerprint: str
    render: Render
    outcome: Outcome | None = field(default=None)

    def __call__(self, entry: Transaction, refusal: WalletError | None) -> None:
        status, body = self.render(entry, refusal)
        # No savepoint: a duplicate key must abort the caller's whole transaction.
        record = IdempotencyKey(
            user_id=self.user_id,
            key=self.key,
            endpoint=self.endpoint,
            fingerprint=self.fingerprint,
            status_code=status,
            response_body=body,
            transaction=entry,
        )
        _INSERT.save(record)
        self.outcome = Outcome(status, body)


def _stored(*, user_id: int, key: str, fingerprint: str) -> Outcome | None:
    for stored_fingerprint, status_code, body in _LOOKUP.rows(user_id=user_id, key=key):  # one at most: unique
        if stored_fingerprint != fingerprint:
            raise IdempotencyKeyReused()
        return Outcome(status_code, body, replayed=True)
    return None


def idempotent_call(
    *, user: User, key: str | None, endpoint: str, body: object, perform: Perform, render: Render
) -> Outcome:
    """Run ``perform`` at most once per (user, key), or replay the stored outcome.

    A stored outcome is replayed before ``perform`` runs, so whatever
    ``perform`` would check (the payment PIN) is not checked again for a
    replay: the replay answers the first request's outcome, moves nothing and
    counts nothing, the same whatever the retry's PIN, so it tells nothing
    about a PIN. The body's secrets (``UNFINGERPRINTED``) are neither
    fingerprinted nor stored.

    Transaction: none of its own; ``perform``'s service writes the key record
    in its money transaction through the hook. Locks: the service's wallet rows,
    then the unique (user, key) index entry. Side effects: those of the service,
    only for the first request of a key. Raises ``IdempotencyKeyReused``,
    ``IdempotencyInProgress``, and whatever the service or validation raises for
    outcomes that are not stored.
    """
    if key is None:
        return Outcome(*render(perform(None), None))
    fingerprint = body_fingerprint(endpoint=endpoint, body=body)
    stored = _stored(user_id=user.pk, key=key, fingerprint=fingerprint)
    if stored is not None:
        return stored
    recorder = _Recorder(user_id=user.pk, key=key, endpoint=endpoint, fingerprint=fingerprint, render=render)
    try:
        perform(recorder)
    except WalletError as refusal:
        if refusal.transaction is not None and recorder.outcome is not None:
            return recorder.outcome
        raise
    except IntegrityError:
        # A racing request with this key committed first; this one's movement rolled back.
        stored = _stored(user_id=user.pk, key=key, fingerprint=fingerprint)
        if stored is None:
            raise IdempotencyInProgress() from None
        return stored
    assert recorder.outcome is not None, "the service returned without recording its ledger row"
    return recorder.outcome


def idempotency_keys_prune(*, older_than: timedelta | None = None) -> int:
    """Delete key records older than ``PAYLANE_IDEMPOTENCY_KEEP_HOURS`` (at least 24 h).

    Transaction: the ORM's own DELETE. Locks: none. Returns how many went.
    """
    keep = older_than or timedelta(hours=max(24, settings.PAYLANE_IDEMPOTENCY_KEEP_HOURS))
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=timezone.now() - keep).delete()
    return deleted
