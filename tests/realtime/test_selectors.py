"""The websocket's ledger reads return exactly the rows of the history selector."""

from __future__ import annotations

import pytest

from realtime import selectors
from wallets import services
from wallets.errors import InsufficientFunds
from wallets.models import User
from wallets.selectors import transactions_for_user


def test_replay_pages_return_exactly_the_users_history_oldest_first(alice: User, bob: User, carol: User) -> None:
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="10.00")
    services.transfer_create(sender=bob, to_user_id=carol.pk, amount="4.00")
    with pytest.raises(InsufficientFunds):  # a FAILED row: bob's history has it, carol's does not
        services.transfer_create(sender=bob, to_user_id=carol.pk, amount="999.00")
    services.transfer_create(sender=carol, to_user_id=bob.pk, amount="1.00")
    services.wallet_top_up(user=bob, amount="3.00")
    for user in (alice, bob, carol):
        expected = list(transactions_for_user(user_id=user.pk).order_by("id").values_list("id", flat=True))
        seen: list[int] = []
        cursor = 0
        while page := selectors.replay_page(user_id=user.pk, after_seq=cursor, limit=2):
            seen += [frame["seq"] for frame in page]
            cursor = page[-1]["seq"]
        assert seen == expected, user.username
        assert selectors.hello_for_user(user_id=user.pk)["last_seq"] == expected[-1]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_handshake_reads_give_their_connections_back_to_the_pool(alice: User) -> None:
    # Every handshake reads twice (token, hello): one connection kept per read
    # would empty the pool (PAYLANE_DB_POOL_SIZE) after a few handshakes.
    from django.db import connection

    from tests.realtime.communicator import connected, run

    async def handshake() -> None:
        comm, hello = await connected(alice)
        assert hello["user_id"] == alice.pk
        await comm.disconnect()

    for _ in range(5):  # each in a new event loop, so on new executor threads
        run(handshake)
    connection.close()  # the test's own connection, too

    stats = connection.pool.get_stats()
    assert stats["pool_available"] == stats["pool_size"]
