from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from ledger.reconcile import ledger_reconcile


class Command(BaseCommand):
    help = "Check that balances follow from the ledger and money is conserved; exit 1 with a report if not."

    def handle(self, *args: Any, **options: Any) -> None:
        findings = ledger_reconcile()
        for finding in findings:
            self.stdout.write(str(finding))
        if findings:
            raise CommandError(f"verify_ledger: {len(findings)} finding(s)", returncode=1)
        self.stdout.write(self.style.SUCCESS("verify_ledger: OK (balances replay, money conserved, triggers in place)"))
