"""API tokens hashed at rest: DRF's plaintext tokens become django-rest-knox rows, then their table goes.

Every unexpired token of ``authtoken_token`` (DRF's authtoken app, no longer
installed) keeps working: its knox row holds the SHA-512 digest of the key
(knox 5.1's ``hash_token``: SHA-512 of the key's UTF-8 bytes, hex), the key's
first 15 characters as ``token_key``, its creation time, and an expiry of
that time plus ``PAYLANE_TOKEN_TTL`` as configured when this runs. Then the
plaintext table is dropped and the app's rows in ``django_migrations`` with
it, so no usable token is left at rest. A database that never had the table
(a new one) skips all of it. Its content types stay until
``manage.py remove_stale_contenttypes``.

Irreversible: a digest cannot give the key back.
"""

import hashlib
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import migrations
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

LEGACY_TABLE = "authtoken_token"
TOKEN_KEY_LENGTH = 15


def _aware(value):
    if isinstance(value, str):  # SQLite through a raw cursor
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if timezone.is_naive(value) else value


def tokens_to_knox(apps, schema_editor):
    connection = schema_editor.connection
    if LEGACY_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    ttl = getattr(settings, "PAYLANE_TOKEN_TTL", timedelta(days=30))
    now = timezone.now()
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {q('key')}, {q('user_id')}, {q('created')} FROM {q(LEGACY_TABLE)}")
        rows = [(key, user_id, _aware(created)) for key, user_id, created in cursor.fetchall()]
    kept = [
        (hashlib.sha512(key.encode()).hexdigest(), key[:TOKEN_KEY_LENGTH], user_id, created)
        for key, user_id, created in rows
        if created + ttl > now
    ]
    AuthToken.objects.bulk_create(
        [
            AuthToken(digest=digest, token_key=token_key, user_id=user_id, expiry=created + ttl)
            for digest, token_key, user_id, created in kept
        ]
    )
    for digest, _, _, created in kept:  # auto_now_add stamped them with now: their own time back
        AuthToken.objects.filter(digest=digest).update(created=created)
    schema_editor.execute(f"DROP TABLE {q(LEGACY_TABLE)}")
    MigrationRecorder(connection).migration_qs.filter(app="authtoken").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("knox", "0009_extend_authtoken_field"),
        ("wallets", "0003_user_manager_case_insensitive"),
    ]

    operations = [
        migrations.RunPython(tokens_to_knox, elidable=False),
    ]
