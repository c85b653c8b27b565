from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db import connections
from django.db.models.signals import post_migrate


def _ensure_triggers(sender: AppConfig, using: str = "default", **kwargs: Any) -> None:
    from wallets.accounts import signins

    signins.append_only_triggers_ensure(connections[using])


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets"

    def ready(self) -> None:
        from ledger.reconcile import check_register
        from wallets.reconcile import append_only_findings, balance_findings
        from wallets.request_reconcile import request_findings

        # verify_ledger checks that every wallet follows from the ledger (wallets/reconcile.py),
        # and that the wallets' own append-only tables (the admin sign-ins) keep their triggers.
        check_register(balance_findings)
        check_register(append_only_findings)
        check_register(request_findings)  # a PAID money request names the transfer that paid it
        # As the ledger does for its tables: a migration that rebuilt a table (SQLite) drops its triggers.
        post_migrate.connect(_ensure_triggers, sender=self, dispatch_uid="wallets_ensure_triggers")
