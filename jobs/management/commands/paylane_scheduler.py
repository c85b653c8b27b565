"""``python manage.py paylane_scheduler``: enqueue the periodic jobs (``PAYLANE_PERIODIC_JOBS``), once per period.

Safe to run on several hosts at once (``jobs.scheduler``). Stops at SIGTERM or
SIGINT after the tick in progress.
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import DatabaseError, close_old_connections

from jobs.scheduler import periodic_tick

logger = logging.getLogger("jobs.scheduler")


class Command(BaseCommand):
    help = "Enqueue each periodic job (seal_ledger, verify_ledger, the prunes) once per period; docs/operations.md."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="one tick, then exit (for cron or a test)")
        parser.add_argument(
            "--interval", type=float, default=5.0, help="seconds between ticks (default 5): how late a run may start"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        while True:
            close_old_connections()
            try:
                for run in periodic_tick():
                    self.stdout.write(f"enqueued {run.job} for {run.due_at.isoformat()}")
            except DatabaseError:
                if options["once"]:
                    raise
                # The database is away: the next tick tries again (a period's run is enqueued late, not lost).
                logger.warning("scheduler tick failed", exc_info=True)
            if options["once"] or stopping.wait(options["interval"]):
                return
