"""The idempotency key table without the two indexes Django gives every foreign key.

Every INSERT (one per money-moving API call) updates each index of the table, and these two serve
no query: the unique (user_id, key) index leads with user_id, so it serves every lookup by user and
a user's deletion; nothing looks a key up by its ledger row, and ledger rows are never deleted.
The constraints themselves stay. Frozen SQL (the names are the ones 0002 created on both backends),
and on PostgreSQL ``DROP INDEX CONCURRENTLY``: writes to the table go on while it runs.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

INDEXES = {
    "wallets_idempotencykey_user_id_d06b84f1": "user_id",
    "wallets_idempotencykey_transaction_id_359c2fba": "transaction_id",
}


def _concurrently(schema_editor):
    return " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""


def indexes_drop(apps, schema_editor):
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX{_concurrently(schema_editor)} IF EXISTS "{name}"')


def indexes_create(apps, schema_editor):
    for name, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX{_concurrently(schema_editor)} IF NOT EXISTS "{name}" ON "wallets_idempotencykey" ("{column}")'
        )


class Migration(migrations.Migration):
    atomic = False  # CREATE/DROP INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [
        ("ledger", "0010_history_indexes"),
        ("wallets", "0011_transfer_function"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="idempotencykey",
                    name="transaction",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="ledger.transaction",
                    ),
                ),
                migrations.AlterField(
                    model_name="idempotencykey",
                    name="user",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(indexes_drop, indexes_create)],
        ),
    ]
