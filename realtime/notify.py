"""The one place that pushes to Channels groups.

Called only through ``transaction.on_commit(..., robust=True)`` by the wallet
services, so nothing leaves the process before COMMIT and a push failure never
turns a committed transfer into an error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ledger.models import Transaction


def transaction_committed(entry: Transaction) -> None:
    """Tell the parties of ``entry`` about it. (Seam: the real-time issue fills it.)"""
