"""Row hashes, seals and the daily-limit audit record (docs/audit.md).

Rows written before this migration get their hash here, computed from their
stored content; the append-only triggers are lifted for that one UPDATE inside
this migration's transaction (the migration runs as the table owner) and put
back before it commits. The two new tables get the same triggers as the ledger.

The trigger SQL is frozen here as this migration applies it: ``ledger/sql/``
holds the *current* definitions (re-applied by ``post_migrate``), and editing
them never changes what this migration did.
"""

from typing import Any

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from ledger import hashing
from ledger.migration_operations import VendorSQL

# The append-only triggers of migration 0003, for any table ("{table}").
POSTGRESQL = [
    """CREATE OR REPLACE FUNCTION paylane_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'restrict_violation';
END;
$$""",
    """CREATE OR REPLACE TRIGGER {table}_append_only
    BEFORE UPDATE OR DELETE ON {table}
    FOR EACH ROW EXECUTE FUNCTION paylane_refuse_change()""",
    """CREATE OR REPLACE TRIGGER {table}_no_truncate
    BEFORE TRUNCATE ON {table}
    FOR EACH STATEMENT EXECUTE FUNCTION paylane_refuse_change()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS {table}_append_only ON {table}",
    "DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
]
SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS {table}_no_update
    BEFORE UPDATE ON {table}
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE on {table} is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS {table}_no_delete
    BEFORE DELETE ON {table}
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE on {table} is refused');
END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS {table}_no_update",
    "DROP TRIGGER IF EXISTS {table}_no_delete",
]
FROZEN = {"postgresql": (POSTGRESQL, POSTGRESQL_REVERSE), "sqlite": (SQLITE, SQLITE_REVERSE)}


def for_table(vendor: str, table: str) -> tuple[list[str], list[str]]:
    forward, reverse = FROZEN[vendor]
    return [sql.replace("{table}", table) for sql in forward], [sql.replace("{table}", table) for sql in reverse]


def append_only(table: str) -> VendorSQL:
    return VendorSQL(postgresql=for_table("postgresql", table), sqlite=for_table("sqlite", table))


def backfill_row_hashes(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    Transaction = apps.get_model("ledger", "Transaction")
    pending = Transaction.objects.using(schema_editor.connection.alias).filter(row_hash="")
    if not pending.exists():
        return
    restore, lift = for_table(schema_editor.connection.vendor, "ledger_transaction")
    for sql in lift:
        schema_editor.execute(sql, params=None)
    with schema_editor.connection.cursor() as cursor:
        for row in pending.values("id", *hashing.ROW_FIELDS).iterator(chunk_size=2000):
            cursor.execute(
                "UPDATE ledger_transaction SET row_hash = %s WHERE id = %s",
                [hashing.row_hash_compute(row), row["id"]],
            )
    for sql in restore:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0003_append_only_triggers'),
        ('wallets', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='transaction',
            name='row_hash',
            field=models.CharField(blank=True, default='', max_length=64),
        ),
        migrations.RunPython(backfill_row_hashes, migrations.RunPython.noop, elidable=False),
        migrations.CreateModel(
            name='Seal',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('after_id', models.BigIntegerField(unique=True)),
                ('last_id', models.BigIntegerField()),
                ('row_count', models.PositiveIntegerField()),
                ('block_hash', models.CharField(max_length=64)),
                ('prev_hash', models.CharField(max_length=64, unique=True)),
                ('seal_hash', models.CharField(max_length=64, unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['id'],
                'constraints': [models.CheckConstraint(condition=models.Q(('last_id__gt', models.F('after_id'))), name='ledger_seal_range'), models.CheckConstraint(condition=models.Q(('row_count__gt', 0)), name='ledger_seal_not_empty')],
            },
        ),
        migrations.CreateModel(
            name='DailyLimitChange',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('old_limit', models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
                ('new_limit', models.DecimalField(blank=True, decimal_places=2, max_digits=14, null=True)),
                ('changed_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('changed_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('wallet', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='daily_limit_changes', to='wallets.wallet')),
            ],
            options={
                'ordering': ['-id'],
                'indexes': [models.Index(fields=['wallet', '-id'], name='ledger_limit_wallet_id')],
            },
        ),
        append_only("ledger_seal"),
        append_only("ledger_dailylimitchange"),
    ]
