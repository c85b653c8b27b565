"""Indexes for the history's filters (ledger/history.py; docs/performance.md, "History filters").

Each B-tree index starts with a party, as each side of "which entries may this user
see" does: a filter then reads one user's rows. The text search (``q``, any case,
anywhere in the note or the other party's username) is ``UPPER(col) LIKE UPPER('%text%')``
as Django writes ``icontains``; on PostgreSQL a pg_trgm GIN index on ``UPPER(col)`` serves
it (three characters or more). SQLite has no such index and needs none: it gets the
B-trees only. The username's twin index belongs to the user table's app (the ledger knows
nothing of it): wallets ``0010_username_trigram``. Unapplied, the trigram index is dropped
and the extension stays (other database objects may use it by then).

``AddIndex`` is ``CREATE INDEX``: no table is rebuilt, on either backend, so the
append-only triggers stay as they are. On an already large PostgreSQL ledger, create
these by hand first with ``CREATE INDEX CONCURRENTLY`` under the same names and fake
this migration, so the build does not hold off inserts.
"""

from django.conf import settings
from django.db import migrations, models

from ledger.migration_operations import VendorSQL

TRIGRAM_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ledger_tx_note_trgm ON ledger_transaction USING gin (UPPER(note) gin_trgm_ops)",
]
TRIGRAM_REVERSE = [
    "DROP INDEX IF EXISTS ledger_tx_note_trgm",
]


class Migration(migrations.Migration):

    dependencies = [
        ('ledger', '0009_reversals'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['sender', 'created_at', 'id'], name='ledger_tx_sender_created'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['receiver', 'created_at', 'id'], name='ledger_tx_receiver_created'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['sender', 'receiver', '-id'], name='ledger_tx_sender_receiver'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['receiver', 'sender', '-id'], name='ledger_tx_receiver_sender'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['sender', 'transaction_type', '-id'], name='ledger_tx_sender_type'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['receiver', 'transaction_type', '-id'], name='ledger_tx_receiver_type'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['sender', 'status', '-id'], name='ledger_tx_sender_status'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['sender', 'amount', 'id'], name='ledger_tx_sender_amount'),
        ),
        migrations.AddIndex(
            model_name='transaction',
            index=models.Index(fields=['receiver', 'amount', 'id'], name='ledger_tx_receiver_amount'),
        ),
        VendorSQL(postgresql=(TRIGRAM_FORWARD, TRIGRAM_REVERSE), sqlite=([], [])),
    ]
