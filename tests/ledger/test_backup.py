"""Backups: docs/operations.md's back-up-and-restore commands, run as written, give a ledger that verifies.

The block of shell commands is read from the document itself, so what the document says is what
is tested: pg_dump of the test database while transfers commit, a new database, pg_restore,
then verify_ledger against the restored database with the anchor seal_ledger printed before.
"""

from __future__ import annotations

import io
import itertools
import os
import random
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from ledger import triggers
from ledger.models import Transaction
from tests.racing import race
from tests.support import live
from wallets import reversals, services
from wallets.accounts import signins
from wallets.models import AdminSignIn, User

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DOC = Path(settings.BASE_DIR) / "docs" / "operations.md"


def documented_commands() -> str:
    """The shell block of docs/operations.md's "Backups and restore" that starts with the pg_dump step."""
    section = DOC.read_text().split("## Backups and restore", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    found = [b for b in blocks if "pg_dump " in b and "pg_restore " in b]
    assert len(found) == 1, "docs/operations.md: one sh block with the pg_dump and pg_restore steps"
    return found[0]


def postgres_bin() -> str:
    """The folder of the client tools of the server's major version (Debian's layout), else the PATH's."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version_num")
        major = int(cursor.fetchone()[0]) // 10000
    folder = Path(f"/usr/lib/postgresql/{major}/bin")
    if (folder / "pg_dump").exists():
        return str(folder)
    found = shutil.which("pg_dump")
    assert found, f"no pg_dump for PostgreSQL {major}: apt-get install postgresql-client-{major}"
    return str(Path(found).parent)


@pytest.fixture
def restored_name() -> Iterator[str]:
    name = f"{connection.settings_dict['NAME']}_restored"
    drop = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    with connection.cursor() as cursor:
        cursor.execute(drop)
    yield name
    with connection.cursor() as cursor:
        cursor.execute(drop)


def test_a_backup_taken_while_transfers_commit_restores_to_a_ledger_that_verifies_and_stays_append_only(
    register: Callable[..., User], restored_name: str, tmp_path: Path
) -> None:
    users = [register(f"u{i}", balance="1000.00") for i in range(4)]
    transfers = [
        services.transfer_create(sender=sender, to_user_id=receiver.pk, amount="10.00")
        for sender, receiver in itertools.pairwise(users)
    ]
    first_transfer = transfers[0]
    # A row in every append-only table: a trigger on an empty table has nothing to refuse.
    services.wallet_set_daily_limit(wallet=users[0].wallet, daily_limit=Decimal("5000.00"))
    signins.admin_signin_record(
        username="u0", user=users[0], reason=AdminSignIn.Reason.NOT_STAFF, client_ip="127.0.0.1"
    )
    ops = User.objects.create_superuser(username="ops", password="a long staff passphrase")
    lead = User.objects.create_superuser(username="lead", password="a long staff passphrase")
    proposal = reversals.reversal_propose(actor=ops, entry_id=first_transfer.pk, reason="a test proposal")
    reversals.reversal_refuse(actor=lead, proposal_id=proposal.pk, reason="a test refusal")
    sealed = io.StringIO()
    call_command("seal_ledger", stdout=sealed)
    tip = re.search(r"tip seal (\d+) last id \d+ hash ([0-9a-f]{64})", sealed.getvalue())
    assert tip, sealed.getvalue()
    before = set(Transaction.objects.values_list("id", flat=True))

    url = live.tests_database_url()
    restored_url = f"{url.rsplit('/', 1)[0]}/{restored_name}"
    env = {k: v for k, v in os.environ.items() if k not in ("PAYLANE_PROCESS", "REDIS_URL")}
    env.update(
        PATH=os.pathsep.join([postgres_bin(), str(Path(sys.executable).parent), env.get("PATH", "")]),
        DATABASE_URL=url,
        BACKUP=str(tmp_path / "paylane.dump"),
        RESTORED=restored_name,
        RESTORED_URL=restored_url,
        TIP=f"{tip[1]}:{tip[2]}",
        PAYLANE_DB_POOL_SIZE="0",
    )
    done = threading.Event()

    def pay(seed: int) -> int:
        rng, paid = random.Random(seed), 0
        while not done.is_set() and paid < 2000:
            sender, receiver = rng.sample(users, 2)
            try:
                amount = f"{rng.randint(1, 300) / 100:.2f}"
                services.transfer_create(sender=sender, to_user_id=receiver.pk, amount=amount)
            except (services.InsufficientFunds, services.DailyLimitExceeded):
                pass
            paid += 1
        return paid

    def back_up_and_restore() -> subprocess.CompletedProcess[str]:
        try:
            return subprocess.run(
                ["bash", "-euo", "pipefail", "-c", documented_commands()],
                cwd=settings.BASE_DIR,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
        finally:
            done.set()

    *paid, result = race([lambda s=s: pay(s) for s in range(4)] + [back_up_and_restore])
    assert all(isinstance(n, int) and n > 0 for n in paid), paid
    assert isinstance(result, subprocess.CompletedProcess), result
    assert result.returncode == 0, result.stdout + result.stderr
    assert "verify_ledger: OK" in result.stdout

    with psycopg.connect(restored_url, autocommit=True) as restored:
        ids = {row[0] for row in restored.execute("SELECT id FROM ledger_transaction")}
        assert before <= ids  # everything committed before the backup began
        next_id = restored.execute("SELECT last_value FROM ledger_transaction_id_seq").fetchone()
        assert next_id is not None and next_id[0] >= max(ids)
        for table in [*triggers.APPEND_ONLY_TABLES, *signins.APPEND_ONLY_TABLES]:
            for statement in (f"UPDATE {table} SET id = id", f"DELETE FROM {table}", f"TRUNCATE {table} CASCADE"):
                with pytest.raises(psycopg.errors.RestrictViolation, match="is refused"):
                    restored.execute(statement)
