from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from django.utils import timezone

from ledger.reconcile import anchor_findings, ledger_reconcile, ledger_unsealed_count
from ledger.replica import replica_reads
from ledger.services import verification_record
from ledger.snapshot import ledger_snapshot


def _anchor(text: str) -> tuple[int, str]:
    seal_id, _, seal_hash = text.partition(":")
    if not seal_id.isdigit() or len(seal_hash) != 64:
        raise CommandError(f"--anchor takes SEAL_ID:SEAL_HASH (as printed by seal_ledger), not {text!r}")
    return int(seal_id), seal_hash


class Command(BaseCommand):
    help = (
        "Check that balances follow from the ledger, money is conserved, the triggers are in place, every row "
        "matches its hash and every seal its block and chain; exit 1 with a report if not. The outcome is recorded "
        "(ledger.VerificationRun) for /metrics."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="one JSON object on stdout, for machines")
        parser.add_argument(
            "--anchor",
            action="append",
            default=[],
            metavar="SEAL_ID:HASH",
            help="a seal hash kept outside the database (printed by seal_ledger); repeatable",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        anchors = dict(_anchor(text) for text in options["anchor"])
        started_at = timezone.now()
        # One snapshot for every figure of the report, the anchors and the unsealed count included:
        # on the replica when there is one (ledger.replica); the outcome is recorded on default.
        with replica_reads(), ledger_snapshot():
            findings = ledger_reconcile() + anchor_findings(anchors)
            unsealed = ledger_unsealed_count()
        self._record(started_at=started_at, findings=len(findings))
        if options["json"]:
            report = {"ok": not findings, "unsealed_rows": unsealed, "findings": [asdict(f) for f in findings]}
            self.stdout.write(json.dumps(report, indent=2))
        else:
            for finding in findings:
                self.stdout.write(str(finding))
        if findings:
            raise CommandError(f"verify_ledger: {len(findings)} finding(s)", returncode=1)
        if not options["json"]:
            self.stdout.write(
                self.style.SUCCESS(
                    "verify_ledger: OK (balances replay, money conserved, triggers in place, row hashes and "
                    f"seals match; {unsealed} row(s) not sealed yet)"
                )
            )

    def _record(self, *, started_at: datetime, findings: int) -> None:
        """The run's outcome for /metrics; a role that may only read still gets its report."""
        try:
            verification_record(started_at=started_at, ok=not findings, findings=findings)
        except DatabaseError as exc:
            self.stderr.write(f"verify_ledger: the outcome was not recorded for /metrics: {exc}")
