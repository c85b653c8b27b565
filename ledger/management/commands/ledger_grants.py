from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection

from ledger.grants import runtime_grants_sql


class Command(BaseCommand):
    help = (
        "Print the SQL (PostgreSQL) that gives a runtime role SELECT and INSERT only on the append-only ledger "
        "tables and ordinary access elsewhere. Run it as the table owner after every migrate: "
        "python manage.py ledger_grants --role paylane_app | psql ..."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, help="the runtime role (not the owner of the tables)")

    def handle(self, *args: Any, **options: Any) -> None:
        if connection.vendor != "postgresql":
            raise CommandError("ledger_grants needs PostgreSQL (SQLite has no roles).")
        self.stdout.write("-- Run as the owner of the tables (the migrations role), after every migrate.")
        self.stdout.write("BEGIN;")
        for statement in runtime_grants_sql(connection=connection, role=options["role"]):
            self.stdout.write(f"{statement};")
        self.stdout.write("COMMIT;")
