"""Corrections (REFUND, REVERSAL, each naming the entry it ``corrects``) and notes on ledger entries.

SQLite rebuilds ``ledger_transaction`` to change its CHECK constraints and add the
foreign key, and a rebuilt table has lost its triggers: the last operation puts
the append-only triggers back (the SQL frozen here as migrations 0003 and 0006
applied it; ``ledger/sql/`` holds the current definitions, re-applied by
``post_migrate``). Unapplied, the first operation does the same after the
rebuild back. PostgreSQL alters the table in place and keeps its triggers.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from ledger.migration_operations import VendorSQL

SQLITE_TRIGGERS = [
    """CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_update
    BEFORE UPDATE ON ledger_transaction
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE on ledger_transaction is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_delete
    BEFORE DELETE ON ledger_transaction
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE on ledger_transaction is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS ledger_transaction_no_replace
    BEFORE INSERT ON ledger_transaction
    WHEN EXISTS (SELECT 1 FROM ledger_transaction WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: an INSERT that meets an existing row of ledger_transaction on its primary key or a UNIQUE column is refused');
END""",
]


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0007_verification_run"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        VendorSQL(postgresql=([], []), sqlite=([], SQLITE_TRIGGERS)),
        migrations.RemoveConstraint(
            model_name="transaction",
            name="ledger_tx_type_valid",
        ),
        migrations.RemoveConstraint(
            model_name="transaction",
            name="ledger_tx_parties_match_type",
        ),
        migrations.AddField(
            model_name="transaction",
            name="corrects",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="corrections",
                to="ledger.transaction",
            ),
        ),
        migrations.AddField(
            model_name="transaction",
            name="note",
            field=models.CharField(blank=True, default="", max_length=80),
        ),
        migrations.AlterField(
            model_name="transaction",
            name="transaction_type",
            field=models.CharField(
                choices=[
                    ("ADD_MONEY", "Add money"),
                    ("TRANSFER", "Transfer"),
                    ("REFUND", "Refund"),
                    ("REVERSAL", "Reversal"),
                ],
                max_length=16,
            ),
        ),
        migrations.AddIndex(
            model_name="transaction",
            index=models.Index(
                condition=models.Q(("corrects__isnull", False)), fields=["corrects"], name="ledger_tx_corrects"
            ),
        ),
        migrations.AddConstraint(
            model_name="transaction",
            constraint=models.CheckConstraint(
                condition=models.Q(("transaction_type__in", ["ADD_MONEY", "TRANSFER", "REFUND", "REVERSAL"])),
                name="ledger_tx_type_valid",
            ),
        ),
        migrations.AddConstraint(
            model_name="transaction",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("sender__isnull", True), ("status", "SUCCESS"), ("transaction_type", "ADD_MONEY")),
                    models.Q(("sender__isnull", False), ("transaction_type__in", ["TRANSFER", "REFUND", "REVERSAL"])),
                    _connector="OR",
                ),
                name="ledger_tx_parties_match_type",
            ),
        ),
        migrations.AddConstraint(
            model_name="transaction",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    models.Q(("corrects__isnull", False), ("transaction_type__in", ["REFUND", "REVERSAL"])),
                    models.Q(("corrects__isnull", True), ("transaction_type__in", ["ADD_MONEY", "TRANSFER"])),
                    _connector="OR",
                ),
                name="ledger_tx_corrects_matches_type",
            ),
        ),
        VendorSQL(postgresql=([], []), sqlite=(SQLITE_TRIGGERS, [])),
    ]
