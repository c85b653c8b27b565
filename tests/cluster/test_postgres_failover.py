"""The PostgreSQL primary's host dies under load (SIGKILL to Patroni and its PostgreSQL).

Patroni on the synchronous standby takes the leader key when it expires and promotes it; HAProxy
sends writes there (Patroni's /primary check) and PgBouncer reconnects through it. Every payment
answered 201, before, during and after, is on the new primary exactly once (synchronous
replication with remote_apply: an acknowledged COMMIT was on the standby), the money adds up, and
``manage.py verify_ledger`` passes there. The time from the kill to the first 201 is printed.
"""

from __future__ import annotations

import time
from collections import Counter

import pytest

from deploy.cluster.postgres import kill_pg_node, patroni_roles, primary_node, start_pg_node, sync_standby
from tests.cluster.support import Payers, Running, ledger_check, sign_up

pytestmark = pytest.mark.timeout(300)


def test_the_primary_killed_mid_load_promotes_the_standby_and_loses_no_acknowledged_payment(
    cluster: Running, capsys: pytest.CaptureFixture[str]
) -> None:
    users = sign_up(cluster, 6)
    state = cluster.state
    old = primary_node(state)
    assert old is not None and sync_standby(state) not in (None, old), patroni_roles(state)
    with Payers(cluster, users, threads=6) as payers:
        time.sleep(4)
        before = [t for t in payers.finished() if t.status == 201]
        killing = time.monotonic()
        kill_pg_node(state, old)
        killed = time.monotonic()
        new = None
        while new in (None, old):
            assert time.monotonic() - killed < 90, patroni_roles(state)
            new = primary_node(state)
            time.sleep(0.1)
        promoted = time.monotonic()
        # Load on the new primary until a few seconds of payments have been answered there.
        deadline = time.monotonic() + 60
        while not [a for t in payers.finished() for a in t.attempts if a.started > promoted + 3 and a.status == 201]:
            assert time.monotonic() < deadline, "no payment answered after the failover"
            time.sleep(0.2)
    assert before, "no payment before the kill"
    first_201 = min(a.ended for t in payers.finished() for a in t.attempts if a.started >= killed and a.status == 201)
    with capsys.disabled():  # the measurement, shown by make cluster-test
        print(
            f"\nPostgreSQL failover: {old} -> {new}; promoted {promoted - killing:.1f} s after the kill, first 201 "
            f"{first_201 - killing:.1f} s after it; failed attempts {Counter(a.status for a in payers.failures())}, "
            f"{len(payers.finished())} payments"
        )
    # Never a 500: an attempt the failover cut short says "try again" (503: the connection lost, or
    # a write refused by the demoted primary, 25006) or gets no answer, and its retry pays once.
    assert not [a for a in payers.failures() if a.status == 500], Counter(a.status for a in payers.failures())
    assert {t.status for t in payers.finished()} == {201}, [t for t in payers.finished() if t.status != 201][:5]
    check = ledger_check(cluster, users, payers)
    assert check["missing"] == [] and check["extra"] == [], check
    assert check["in_ledger"] == check["answered_201"] == check["distinct_201_ids"], check
    assert check["balances"] == check["expected_balances"], check
    verified = cluster.manage("verify_ledger")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    # The old primary's host comes back: Patroni rewinds it and it follows the new primary.
    start_pg_node(state, old)
