from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.selectors import seal_tip
from ledger.services import ledger_seal


class Command(BaseCommand):
    help = (
        "Seal the committed ledger rows below the safe horizon into hash-chained blocks. Takes no lock that "
        "transfers wait for; safe to run from cron as often as you like. Prints the chain's tip hash: keep it "
        "outside the database (it is what proves the chain was not rebuilt)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--max-rows", type=int, default=10_000, help="rows per block (default 10000)")
        parser.add_argument(
            "--settle-timeout",
            type=float,
            default=5.0,
            help="seconds to wait for in-flight ledger writers before giving up this run (default 5)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["max_rows"] < 1:
            raise CommandError("--max-rows must be at least 1")
        run = ledger_seal(max_rows=options["max_rows"], settle_timeout=options["settle_timeout"])
        if run.unsettled:
            raise CommandError(
                f"seal_ledger: {run.unsettled} ledger transaction(s) still in flight after "
                f"{options['settle_timeout']}s; nothing sealed, run again",
                returncode=2,
            )
        for seal in run.seals:
            self.stdout.write(f"{seal}: {seal.row_count} row(s), seal hash {seal.seal_hash}")
        tip = seal_tip()
        self.stdout.write(
            f"seal_ledger: {len(run.seals)} new seal(s); tip "
            + (f"seal {tip.pk} last id {tip.last_id} hash {tip.seal_hash}" if tip else "none (ledger empty)")
        )
