"""Test-only tasks: a receipt by SMS for a ledger row (the outbox's side effect), and tasks that fail.

Real tasks in every respect (module-level, enqueued in the database, run by
``manage.py db_worker`` in a subprocess too); only their purpose is a test's.
"""

from __future__ import annotations

import time
from pathlib import Path

from django.tasks import TaskContext, task

from jobs.outbox import deliver_once, delivery_key
from wallets.accounts.sms import sms_send


@task
def receipt_send(*, entry_id: int, to: str) -> bool:
    """Text ``to`` a receipt for ledger row ``entry_id``, once however often the task runs."""
    return deliver_once(
        key=delivery_key("test-receipt", entry_id),
        send=lambda: sms_send(to=to, body=f"Paylane receipt for ledger entry {entry_id}."),
    )


@task(takes_context=True)
def receipt_send_slowly(context: TaskContext, *, entry_id: int, to: str, stall: str, marker: str) -> bool:
    """``receipt_send``, but the first attempt stalls for good (until its worker is killed) at ``stall``:
    ``before_send`` (nothing sent yet) or ``after_record`` (sent and recorded, the task not finished).
    ``marker`` is a file written as the attempt stalls, for the test to wait on."""

    def stall_here(where: str) -> None:
        if context.attempt == 1 and stall == where:
            Path(marker).write_text(where)
            time.sleep(3600)

    stall_here("before_send")
    sent = deliver_once(
        key=delivery_key("test-receipt", entry_id),
        send=lambda: sms_send(to=to, body=f"Paylane receipt for ledger entry {entry_id}."),
    )
    stall_here("after_record")
    return sent


class Flaky(Exception):
    pass


@task(takes_context=True)
def fails_then_succeeds(context: TaskContext, *, failures: int) -> int:
    """Raise on the first ``failures`` attempts, then return the attempt that succeeded."""
    if context.attempt <= failures:
        raise Flaky(f"attempt {context.attempt}")
    return context.attempt


@task
def always_fails() -> None:
    raise Flaky("always")
