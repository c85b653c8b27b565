from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ledger.export import csv_lines, reversal_csv_lines
from ledger.replica import replica_reads
from ledger.selectors import ledger_for_export


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"not a date (YYYY-MM-DD): {text!r}") from None


class Command(BaseCommand):
    help = (
        "Write the ledger as CSV to stdout, streamed, in id order, with a header row. --since and --until are "
        "calendar days in TIME_ZONE, both inclusive; without them, everything."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", metavar="DATE", help="first day to include (YYYY-MM-DD)")
        parser.add_argument("--until", metavar="DATE", help="last day to include (YYYY-MM-DD)")
        parser.add_argument(
            "--reversals",
            action="store_true",
            help="write the staff reversal records (proposals and decisions) instead of the ledger rows",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["reversals"]:
            with replica_reads():
                for line in reversal_csv_lines():
                    self.stdout.write(line, ending="")
            return
        since = _day(options["since"]) if options["since"] else None
        until = _day(options["until"]) if options["until"] else None
        if since and until and since > until:
            raise CommandError("--since is after --until")
        with replica_reads():  # read-only: the replica may serve it
            for line in csv_lines(ledger_for_export(since=since, until=until)):
                self.stdout.write(line, ending="")
