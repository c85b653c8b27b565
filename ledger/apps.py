from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _ensure_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from ledger import triggers

    triggers.ensure_all(connections[using])


class LedgerConfig(AppConfig):
    name = "ledger"
    verbose_name = "Ledger (append-only audit log)"

    def ready(self) -> None:
        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="ledger_ensure_triggers")
