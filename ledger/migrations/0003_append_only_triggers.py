"""Install the append-only triggers on the ledger (SQL in ledger/sql/<vendor>/)."""

from __future__ import annotations

from django.db import migrations

from ledger.triggers import append_only_operation


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_initial")]

    operations = [append_only_operation("ledger_transaction")]
