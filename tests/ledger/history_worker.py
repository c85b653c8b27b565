"""Migrate an empty database from zero with the live trigger SQL swapped out; print what got installed.

Usage: python -m tests.ledger.history_worker SQL_DIR
(``DATABASE_URL`` / ``SQLITE_PATH`` name the empty database.) ``ledger.triggers``
reads its SQL from ``SQL_DIR`` instead of ``ledger/sql``. Only the migrations
run (no ``post_migrate``, which applies the live SQL on purpose). Prints one
JSON object: every trigger on the append-only tables, and on PostgreSQL the
trigger function's source, as the database stores them.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import django
from django.db import connection


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.db.migrations.executor import MigrationExecutor

    from ledger import triggers

    triggers.SQL_DIR = Path(sys.argv[1])
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
    installed: dict[str, str] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        else:
            cursor.execute(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal "
                "UNION ALL SELECT proname, prosrc FROM pg_proc WHERE proname = 'paylane_refuse_change'"
            )
        installed.update(cursor.fetchall())
    print(json.dumps(installed))


if __name__ == "__main__":
    main()
