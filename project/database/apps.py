"""The database app: hooks on new connections (PgBouncer's transaction mode)."""

from __future__ import annotations

from django.apps import AppConfig
from django.db.backends.signals import connection_created


class DatabaseConfig(AppConfig):
    name = "project.database"
    label = "paylane_database"
    verbose_name = "Database"

    def ready(self) -> None:
        from project.database import pooling

        connection_created.connect(pooling.transaction_timeouts_install, dispatch_uid="paylane_transaction_timeouts")
