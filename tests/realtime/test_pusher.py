"""realtime.pusher against a real, private redis-server: stalled (SIGSTOP), stopped, and a process exiting.

The pusher publishes what channels-redis's Pub/Sub layer would (its serializer,
its group channel names), a batch per round trip; a stalled or unreachable
Redis must never hold a committed transfer, nor a process that exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from channels.layers import get_channel_layer
from django.db import connection
from django.test import override_settings

from realtime import pusher
from realtime.notify import user_group
from telemetry.metrics import PUSHES_DROPPED
from tests.conftest import balance_of
from tests.support.live import RedisServer
from wallets import services
from wallets.models import User

pytestmark = pytest.mark.django_db(transaction=True)  # on_commit runs: the push leaves for real

ROOT = Path(__file__).resolve().parents[2]
# Longer than any test here waits: a transfer or an exit that waited on Redis would show.
STALL = 60.0
WAIT = 20.0


@pytest.fixture
def layer_on(private_redis: RedisServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The production channel layer (Pub/Sub, as settings.py configures it) on the private redis-server."""
    monkeypatch.setattr(pusher, "PUSH_TIMEOUT", STALL)
    hosts = [{"address": private_redis.url, "socket_timeout": None, "socket_connect_timeout": 3}]
    layers = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer", "CONFIG": {"hosts": hosts}}}
    with override_settings(CHANNEL_LAYERS=layers):
        yield get_channel_layer()


def group_listener(server: RedisServer, user: User) -> Any:
    subscription = redis.Redis.from_url(server.url).pubsub(ignore_subscribe_messages=True)
    subscription.subscribe(f"asgi__group__{user_group(user.pk)}")
    subscription.get_message(timeout=1)  # the subscribe confirmation
    return subscription


def next_message(subscription: Any, layer: Any) -> dict[str, Any]:
    message = subscription.get_message(timeout=WAIT)
    assert message is not None, "nothing published"
    return dict(layer.deserialize(message["data"]))


def pusher_connected(layer: Any, server: RedisServer, alice: User, bob: User) -> Any:
    """A listener on bob's group, once a first push has gone through (the pusher's connection is open)."""
    listener = group_listener(server, bob)
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    next_message(listener, layer)
    return listener


def stopped(server: RedisServer) -> bool:
    assert server.proc is not None
    with open(f"/proc/{server.proc.pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] == "T"


def test_a_push_is_what_the_layers_group_send_publishes(
    layer_on: Any, private_redis: RedisServer, alice: User, bob: User
) -> None:
    listener = group_listener(private_redis, bob)
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="7.00")
    message = next_message(listener, layer_on)
    assert message["type"] == "wallet.transaction" and message["user_id"] == bob.pk
    assert (message["frame"]["seq"], message["frame"]["balance"]) == (entry.pk, "7.00")


def test_a_stalled_redis_never_delays_a_committed_transfer_and_pushes_resume_after_it(
    layer_on: Any, private_redis: RedisServer, alice: User, bob: User
) -> None:
    listener = pusher_connected(layer_on, private_redis, alice, bob)
    assert private_redis.proc is not None
    os.kill(private_redis.proc.pid, signal.SIGSTOP)  # accepts nothing, answers nothing: a stall
    done: list[int] = []

    def transfers() -> None:
        try:
            for amount in ("2.00", "3.00", "4.00"):
                done.append(services.transfer_create(sender=alice, to_user_id=bob.pk, amount=amount).pk)
        finally:
            connection.close()  # this thread's connection goes back to the pool

    worker = threading.Thread(target=transfers)
    worker.start()
    worker.join(WAIT)  # a push that held its transfer would hold it for STALL seconds
    returned_while_stalled = not worker.is_alive() and len(done) == 3
    still_stalled = stopped(private_redis)
    os.kill(private_redis.proc.pid, signal.SIGCONT)
    worker.join()
    assert still_stalled, "the test did not stall Redis for long enough"
    assert returned_while_stalled, "a transfer waited on the stalled Redis"
    assert str(balance_of(bob)) == "10.00"  # committed while Redis was stalled
    assert pusher.Pusher.get(layer_on).flush(WAIT)
    # Once Redis answers again, what waited goes out in order, and new pushes follow.
    seqs = [next_message(listener, layer_on)["frame"]["seq"] for _ in done]
    assert seqs == done
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="5.00")
    assert next_message(listener, layer_on)["frame"]["seq"] == entry.pk


def test_with_redis_stopped_pushes_are_dropped_and_counted_never_raised(
    layer_on: Any, private_redis: RedisServer, alice: User, bob: User
) -> None:
    private_redis.stop()
    dropped = PUSHES_DROPPED.labels("error")._value.get()
    services.transfer_create(sender=alice, to_user_id=bob.pk, amount="1.00")
    assert pusher.Pusher.get(layer_on).flush(WAIT)
    assert str(balance_of(bob)) == "1.00"
    assert PUSHES_DROPPED.labels("error")._value.get() == dropped + 2


def test_after_redis_restarts_the_next_push_arrives_none_is_dropped(
    layer_on: Any, private_redis: RedisServer, alice: User, bob: User
) -> None:
    # The pusher keeps one connection; Redis restarted behind it closes it. The next batch opens a
    # new one (as redis-py's pool does at checkout) instead of writing into the dead one.
    listener = pusher_connected(layer_on, private_redis, alice, bob)
    private_redis.stop()
    private_redis.start()
    listener = group_listener(private_redis, bob)
    dropped = PUSHES_DROPPED.labels("error")._value.get()
    entry = services.transfer_create(sender=alice, to_user_id=bob.pk, amount="2.00")
    assert pusher.Pusher.get(layer_on).flush(WAIT)
    assert PUSHES_DROPPED.labels("error")._value.get() == dropped
    assert next_message(listener, layer_on)["frame"]["seq"] == entry.pk


def test_a_process_exiting_with_pushes_queued_for_a_stalled_redis_exits_and_says_what_it_dropped(
    private_redis: RedisServer,
) -> None:
    script = textwrap.dedent(
        f"""
        import django
        django.setup()
        from channels.layers import get_channel_layer
        from realtime import pusher
        pusher.PUSH_TIMEOUT = {STALL}
        sender = pusher.Pusher.get(get_channel_layer())
        message = {{"type": "wallet.request", "user_id": 1, "frame": {{"type": "request", "request": {{}}}}}}
        sender.submit([("wallet.1", message)] * 3, committed=0.0)
        print("submitted", flush=True)
        """
    )
    assert private_redis.proc is not None
    os.kill(private_redis.proc.pid, signal.SIGSTOP)
    env = {**os.environ, "REDIS_URL": private_redis.url, "DJANGO_SETTINGS_MODULE": "project.settings"}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=WAIT
    )
    assert done.returncode == 0, done.stderr
    assert "submitted" in done.stdout
    assert "process exiting: 3 queued push(es) dropped" in done.stderr
