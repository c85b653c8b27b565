"""Read-your-writes on the synchronous standby: a history read right after a 201 shows it.

The app hosts read history from ``DATABASE_REPLICA_URL``: HAProxy's replica port, which goes to
the node whose Patroni answers ``GET /sync`` (the synchronous standby), and to the primary when
there is none. The primary commits with ``synchronous_commit = remote_apply``, so a 201 comes
back only once the standby has applied the transfer. Run after the PostgreSQL failover test, this
also shows the old primary back as the synchronous standby (Patroni rewinds it).
"""

from __future__ import annotations

import time

import psycopg
import pytest

from deploy.cluster.postgres import patroni_roles, sync_standby
from tests.cluster.support import AMOUNT, PIN, Api, Running, sign_up

pytestmark = pytest.mark.timeout(300)


def test_a_history_read_on_the_standby_right_after_a_transfer_shows_it(cluster: Running) -> None:
    state = cluster.state
    deadline = time.monotonic() + 120
    while sync_standby(state) is None:
        assert time.monotonic() < deadline, patroni_roles(state)
        time.sleep(0.5)
    # HAProxy's replica port now reaches the standby (give its check two beats to see it).
    deadline = time.monotonic() + 30
    while True:
        with psycopg.connect(state.replica_url, connect_timeout=5) as conn:
            row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
        if row and row[0]:
            break
        assert time.monotonic() < deadline, "the replica port does not reach the standby"
        time.sleep(0.5)
    payer, payee = sign_up(cluster, 2)
    pays, reads = Api(cluster, payer.token), Api(cluster, payee.token)
    for n in range(20):
        status, entry = pays.call(
            "POST",
            "/transfers/",
            {"to_user_id": payee.user_id, "amount": AMOUNT, "pin": PIN},
            {"Idempotency-Key": f"ryw-{n}"},
        )
        assert status == 201, (status, entry)
        # Both parties, at once, on whichever app host HAProxy picks.
        for api in (pays, reads):
            status, page = api.call("GET", "/transactions/?limit=5")
            assert status == 200, (status, page)
            assert entry["id"] in [t["id"] for t in page["results"]], (n, entry["id"], page)
    pays.close()
    reads.close()
