"""The periodic jobs (``PAYLANE_PERIODIC_JOBS``): each calls the apps' own services and returns its summary.

The scheduler (``manage.py paylane_scheduler``) enqueues them and the worker
(``manage.py db_worker``) runs them through ``jobs.tasks.periodic_run``, which
records each outcome on its ``PeriodicRun`` row. Every job is safe to run twice
and to overlap with itself: sealing takes the sealers' advisory lock and seals
only what is not sealed yet; verifying reads one snapshot; pruning deletes what
is past its age. A summary with ``"ok": False`` is logged at ERROR and mailed
to ``ADMINS`` (``jobs.tasks``).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from django.utils import timezone

from jobs.services import jobs_prune
from ledger.reconcile import ledger_reconcile, ledger_unsealed_count
from ledger.replica import replica_reads
from ledger.selectors import seal_tip
from ledger.services import ledger_seal, verification_record
from ledger.snapshot import ledger_snapshot
from wallets.accounts.codes import codes_prune
from wallets.idempotency import idempotency_keys_prune
from wallets.money_requests import requests_expire

# A tampered ledger can produce a finding per row: the run keeps the first ones (the mail and
# `manage.py verify_ledger` say the rest).
FINDINGS_KEPT = 20


def seal_ledger() -> dict[str, Any]:
    """``manage.py seal_ledger``'s work: seal what has committed; the tip, to keep outside the database."""
    run = ledger_seal()
    tip = seal_tip()
    return {
        "ok": True,
        "seals": len(run.seals),
        # Writers still in flight after the settle timeout: nothing sealed now, the next minute's run does it.
        "unsettled": run.unsettled,
        "tip": {"seal": tip.pk, "last_id": tip.last_id, "hash": tip.seal_hash} if tip else None,
    }


def verify_ledger() -> dict[str, Any]:
    """``manage.py verify_ledger``'s checks on one snapshot; ``ok`` False with the findings when any fails.

    The outcome is recorded (``ledger.services.verification_record``) for ``/metrics``'
    ``paylane_ledger_last_verify_*``, as the command records its own.
    """
    started_at = timezone.now()
    with replica_reads(), ledger_snapshot():  # on the replica when there is one (ledger.replica)
        findings = ledger_reconcile()
        unsealed = ledger_unsealed_count()
    verification_record(started_at=started_at, ok=not findings, findings=len(findings), source="job")
    summary: dict[str, Any] = {
        "ok": not findings,
        "findings": len(findings),
        "unsealed_rows": unsealed,
        "first_findings": [asdict(finding) for finding in findings[:FINDINGS_KEPT]],
    }
    if findings:
        summary["message"] = f"{len(findings)} finding(s): " + "; ".join(map(str, findings[:5]))
    return summary


def prune_idempotency_keys() -> dict[str, Any]:
    return {"ok": True, "deleted": idempotency_keys_prune()}


def prune_codes() -> dict[str, Any]:
    """One-time codes used, void or expired, a day after they were sent."""
    return {"ok": True, "deleted": codes_prune()}


def prune_jobs() -> dict[str, Any]:
    """Finished task rows, periodic runs and delivery records past ``PAYLANE_JOBS_KEEP``."""
    return {"ok": True, **jobs_prune()}


def expire_requests() -> dict[str, Any]:
    """Money requests still PENDING past their expiry become EXPIRED (both parties are told)."""
    return {"ok": True, "expired": requests_expire()}
