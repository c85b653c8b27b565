"""The admin sign-in record (``AdminSignIn``), append-only from its first row.

The table gets the ledger's append-only triggers, with the SQL frozen here as
this migration applies it (``ledger/sql/`` holds the current definitions,
which ``post_migrate`` re-applies through ``wallets.accounts.signins``):
PostgreSQL refuses UPDATE, DELETE and TRUNCATE through the ledger's
``paylane_refuse_change()`` (created by ledger 0003, hence the dependency);
SQLite refuses UPDATE, DELETE and an INSERT that would replace a row.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from ledger.migration_operations import VendorSQL


POSTGRESQL = [
    """CREATE OR REPLACE TRIGGER wallets_adminsignin_append_only
    BEFORE UPDATE OR DELETE ON wallets_adminsignin
    FOR EACH ROW EXECUTE FUNCTION paylane_refuse_change()""",
    """CREATE OR REPLACE TRIGGER wallets_adminsignin_no_truncate
    BEFORE TRUNCATE ON wallets_adminsignin
    FOR EACH STATEMENT EXECUTE FUNCTION paylane_refuse_change()""",
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS wallets_adminsignin_append_only ON wallets_adminsignin",
    "DROP TRIGGER IF EXISTS wallets_adminsignin_no_truncate ON wallets_adminsignin",
]

SQLITE = [
    """CREATE TRIGGER IF NOT EXISTS wallets_adminsignin_no_update
    BEFORE UPDATE ON wallets_adminsignin
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: UPDATE on wallets_adminsignin is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS wallets_adminsignin_no_delete
    BEFORE DELETE ON wallets_adminsignin
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: DELETE on wallets_adminsignin is refused');
END""",
    """CREATE TRIGGER IF NOT EXISTS wallets_adminsignin_no_replace
    BEFORE INSERT ON wallets_adminsignin
    WHEN EXISTS (SELECT 1 FROM wallets_adminsignin WHERE id = NEW.id)
BEGIN
    SELECT RAISE(ABORT, 'ledger is append-only: an INSERT that meets an existing row of wallets_adminsignin on its primary key or a UNIQUE column is refused');
END""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS wallets_adminsignin_no_update",
    "DROP TRIGGER IF EXISTS wallets_adminsignin_no_delete",
    "DROP TRIGGER IF EXISTS wallets_adminsignin_no_replace",
]


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0003_append_only_triggers'),
        ('wallets', '0005_mobile_verification'),
    ]

    operations = [
        migrations.CreateModel(
            name='AdminSignIn',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                ('username', models.CharField(max_length=150)),
                ('succeeded', models.BooleanField()),
                ('reason', models.CharField(blank=True, choices=[('bad_password', 'unknown user, wrong password or inactive account'), ('not_staff', 'right password, but not staff'), ('locked_out', "refused: django-axes' lockout was in force"), ('otp_missing', 'no one-time code checked (none typed, or no device chosen)'), ('otp_invalid', 'wrong, reused or throttled one-time code'), ('otp_no_device', 'staff without an authenticator device (admin_otp_add)')], max_length=16)),
                ('otp_verified', models.BooleanField(default=False)),
                ('client_ip', models.GenericIPAddressField(blank=True, null=True)),
                ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
            ],
            options={
                'verbose_name': 'admin sign-in',
                'constraints': [models.CheckConstraint(condition=models.Q(models.Q(('reason', ''), ('succeeded', True)), models.Q(('reason__in', ['bad_password', 'not_staff', 'locked_out', 'otp_missing', 'otp_invalid', 'otp_no_device']), ('succeeded', False)), _connector='OR'), name='wallets_adminsignin_reason_matches_outcome'), models.CheckConstraint(condition=models.Q(('otp_verified', False), ('succeeded', True), _connector='OR'), name='wallets_adminsignin_otp_only_on_success')],
            },
        ),
        VendorSQL(postgresql=(POSTGRESQL, POSTGRESQL_REVERSE), sqlite=(SQLITE, SQLITE_REVERSE)),
    ]
