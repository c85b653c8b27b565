"""``python manage.py db_worker``: django-tasks-db's worker command, running jobs' worker (``jobs.worker``).

The same name, options and behaviour as django-tasks-db's command, which this
one replaces (the jobs app comes first in ``INSTALLED_APPS``), plus
heartbeats, recovery of the tasks of a worker that died, and retries with
backoff.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import CommandError
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands import db_worker

from jobs.worker import Worker


class Command(db_worker.Command):
    help = (
        "Run background tasks (django-tasks-db's worker with heartbeats, recovery of a dead worker's tasks "
        "and retries with backoff; docs/operations.md)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        # django-tasks-db's handle, with jobs' Worker in place of its own.
        self.configure_logging(options["verbosity"])
        reload, batch = options["reload"], options["batch"]
        if reload and batch:
            reload = False
        queue_names = options["queue_name"].split(",")
        excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
        if excluded and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(
            queue_names=queue_names,
            interval=options["interval"],
            batch=batch,
            backend_name=options["backend_name"],
            startup_delay=options["startup_delay"],
            max_tasks=options["max_tasks"],
            worker_id=options["worker_id"],
            excluded_queue_names=excluded,
        )
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
