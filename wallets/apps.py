from __future__ import annotations

from django.apps import AppConfig


class WalletsConfig(AppConfig):
    name = "wallets"
    verbose_name = "Wallets"

    def ready(self) -> None:
        from ledger.reconcile import check_register
        from wallets.reconcile import balance_findings

        # verify_ledger checks that every wallet follows from the ledger (wallets/reconcile.py).
        check_register(balance_findings)
