"""The outcome of each ``verify_ledger`` run (``VerificationRun``), read by ``/metrics``.

A plain table: a monitoring signal, not evidence (docs/audit.md).
"""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0006_no_replace_triggers'),
    ]

    operations = [
        migrations.CreateModel(
            name='VerificationRun',
            fields=[
                ('id', models.BigAutoField(primary_key=True, serialize=False)),
                ('started_at', models.DateTimeField()),
                ('finished_at', models.DateTimeField()),
                ('ok', models.BooleanField()),
                ('findings', models.PositiveIntegerField()),
                ('source', models.CharField(default='verify_ledger', max_length=32)),
            ],
            options={
                'ordering': ['-id'],
            },
        ),
    ]
