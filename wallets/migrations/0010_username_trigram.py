"""A trigram index on usernames for the history's ``q`` (any case, anywhere in the other party's
username), PostgreSQL only; its note twin and the pg_trgm extension come with ledger
``0010_history_indexes``, which this follows. SQLite needs no index for it."""

from django.db import migrations

from ledger.migration_operations import VendorSQL


class Migration(migrations.Migration):
    dependencies = [
        ("wallets", "0009_money_requests"),
        ("ledger", "0010_history_indexes"),
    ]

    operations = [
        VendorSQL(
            postgresql=(
                [
                    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
                    "CREATE INDEX IF NOT EXISTS wallets_user_username_trgm ON wallets_user "
                    "USING gin (UPPER(username) gin_trgm_ops)",
                ],
                ["DROP INDEX IF EXISTS wallets_user_username_trgm"],
            ),
            sqlite=([], []),
        ),
    ]
