"""Indexes for the admin's type and status filters (newest first).

On an already large PostgreSQL ledger, create them by hand first with
``CREATE INDEX CONCURRENTLY`` under these names and fake this migration,
so the build does not hold off inserts.
"""

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0004_row_hash_seal_limit_change'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['status', '-id'], name='ledger_tx_status_id'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['transaction_type', '-id'], name='ledger_tx_type_id'),
        ),
    ]
