"""Against a primary and its synchronous standby: migrate, move money, read it back through the replica alias.

Usage: python -m tests.project.replica_worker [unreachable]
(``DATABASE_URL`` names the primary, with the migrated schema, ``DATABASE_REPLICA_URL`` the
standby.) Prints one JSON object: how many of the transfers a history read right after its COMMIT
missed, where the reads went, and what the statement and ``verify_ledger`` (both on the replica)
found. With ``unreachable`` (the replica URL leads nowhere): where a history read went, and what it found.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable
from typing import Any

import django


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    from ledger.replica import REPLICA, read_alias, replica_reads
    from tests.support.sms import last_code
    from wallets import selectors, services
    from wallets.accounts import registration, verification
    from wallets.statements.builder import statement_build
    from wallets.statements.period import period_parse

    # The primary holds a migrated schema already (copied from the test database).
    if sys.argv[1:] == ["unreachable"]:
        # DATABASE_REPLICA_URL leads nowhere: the history is read from default, not refused.
        carol = registration.user_register(
            username="carol", password="correct horse battery staple", mobile_number="+919800000001"
        )
        verification.mobile_verify(user=carol, code=last_code("+919800000001"))
        entry = services.wallet_top_up(user=carol, amount="5.00")
        with replica_reads():
            alias = read_alias()
        page = selectors.transactions_page_for_user(user_id=carol.pk, limit=5)
        print(json.dumps({"alias": alias, "history": [e.pk for e in page], "entry": entry.pk}))
        return
    users = []
    for name, mobile in (("alice", "+919876543210"), ("bob", "+919812345678")):
        user = registration.user_register(username=name, password="correct horse battery staple", mobile_number=mobile)
        verification.mobile_verify(user=user, code=last_code(mobile))
        users.append(user)
    alice, bob = users
    services.wallet_top_up(user=alice, amount="1000.00")

    with replica_reads(), connections[read_alias()].cursor() as cursor:
        cursor.execute("SELECT pg_is_in_recovery()")
        replica_in_recovery = cursor.fetchone()[0]

    counts = {"default": 0, REPLICA: 0}

    def counter(alias: str) -> Callable[..., Any]:
        def count(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
            counts[alias] += 1
            return execute(sql, params, many, context)

        return count

    misses = 0
    transfers = 30
    for _ in range(transfers):
        entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
        # Read-your-writes: the history read right after the COMMIT, on the standby.
        with connections["default"].execute_wrapper(counter("default")):
            with connections[REPLICA].execute_wrapper(counter(REPLICA)):
                page = selectors.transactions_page_for_user(user_id=bob.pk, limit=1)
        misses += not page or page[0].pk != entry.pk

    today = timezone.localdate().isoformat()
    statement = statement_build(user=bob, period=period_parse(first=today, last=today))
    verify = io.StringIO()
    call_command("verify_ledger", stdout=verify)
    print(
        json.dumps(
            {
                "replica_in_recovery": replica_in_recovery,
                "misses": misses,
                "transfers": transfers,
                "history_queries": counts,
                "statement_entries": statement.entry_count,
                "statement_lines": len(list(statement.lines())),
                "verify_ledger": verify.getvalue().strip().splitlines()[-1],
            }
        )
    )


if __name__ == "__main__":
    main()
