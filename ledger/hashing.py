"""Canonical forms and SHA-256 hashes of ledger rows and seals (pure functions).

Row hash (``Transaction.row_hash``)
    SHA-256 of the row's content *without its id*, computed in
    ``entry_append`` before the INSERT: the id is assigned by the database,
    and the trigger forbids writing the hash back afterwards. The content is a
    JSON object with sorted keys and no whitespace; decimals as two-place
    strings, the time as UTC ISO-8601 with microseconds, absent values as
    ``null``, and a ``v`` tag so the form can evolve. Ids are bound to hashes
    by the seal: a block's hash runs over ``"<id>:<row_hash>\\n"`` lines.

Seal hash (``Seal.seal_hash``)
    SHA-256 of the block's range, row count, block hash and the previous
    seal's hash (64 zeros for the first): a hash chain over blocks.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ledger.money import CENT

ROW_HASH_VERSION = 1
GENESIS_HASH = "0" * 64

# The fields of a ledger row that its hash covers (everything but id and row_hash).
ROW_FIELDS: tuple[str, ...] = (
    "transaction_type",
    "status",
    "amount",
    "currency",
    "sender_id",
    "receiver_id",
    "sender_balance_after",
    "sender_version_after",
    "receiver_balance_after",
    "receiver_version_after",
    "failure_reason",
    "created_at",
)
# Fields that arrived later (a note, the entry a refund or reversal corrects). A row that has any
# of them hashes in form 2, which covers them too; a row without them hashes exactly as before, so
# every row hashed in form 1 still verifies.
V2_FIELDS: tuple[str, ...] = ("note", "corrects_id")
HASHED_FIELDS: tuple[str, ...] = ROW_FIELDS + V2_FIELDS


def _canonical_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value.quantize(CENT), "f")
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("ledger timestamps must be timezone-aware")
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    return value


def row_canonical(values: dict[str, Any]) -> bytes:
    """The canonical bytes of one ledger row's content (see the module docstring)."""
    content = {name: _canonical_value(values[name]) for name in ROW_FIELDS}
    content["v"] = ROW_HASH_VERSION
    if any(values.get(name) for name in V2_FIELDS):
        content.update({name: _canonical_value(values.get(name)) for name in V2_FIELDS})
        content["v"] = 2
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def row_hash_compute(values: dict[str, Any]) -> str:
    return hashlib.sha256(row_canonical(values)).hexdigest()


def block_hash_compute(rows: Iterable[tuple[int, str]]) -> tuple[str, int]:
    """SHA-256 over ``"<id>:<row_hash>\\n"`` for the rows of a block in id order, and their count."""
    digest = hashlib.sha256()
    count = 0
    for row_id, row_hash in rows:
        digest.update(f"{row_id}:{row_hash}\n".encode())
        count += 1
    return digest.hexdigest(), count


def seal_hash_compute(*, after_id: int, last_id: int, row_count: int, block_hash: str, prev_hash: str) -> str:
    text = f"paylane-seal-v1|{after_id}|{last_id}|{row_count}|{block_hash}|{prev_hash}"
    return hashlib.sha256(text.encode()).hexdigest()
