"""``python manage.py prune_idempotency_keys``: drop Idempotency-Key records past their retention."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from wallets.idempotency import idempotency_keys_prune


class Command(BaseCommand):
    help = "Delete Idempotency-Key records older than PAYLANE_IDEMPOTENCY_KEEP_HOURS (never less than 24 hours)."

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = idempotency_keys_prune()
        self.stdout.write(f"deleted {deleted} idempotency key record(s)")
