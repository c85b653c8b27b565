"""realtime.channel_layer against a real, private redis-server: a socket's own channel is a local
queue (no SUBSCRIBE, no UNSUBSCRIBE), its groups are Redis subscriptions as in channels-redis."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis
import redis.asyncio

from realtime.channel_layer import LocalChannelPubSubLayer
from tests.support.live import RedisServer


def subscriptions(server: RedisServer) -> set[bytes]:
    """The channels Redis has subscribers for, once the layer's commands have arrived."""
    client = redis.Redis.from_url(server.url)
    time.sleep(0.2)  # the layer writes SUBSCRIBE without waiting for its confirmation
    return set(client.pubsub_channels())


def run(server: RedisServer, scenario: Any) -> Any:
    async def main() -> Any:
        layer = LocalChannelPubSubLayer(hosts=[{"address": server.url, "socket_timeout": None}])
        try:
            return await scenario(layer)
        finally:
            await layer.flush()

    return asyncio.run(main())


def test_a_consumers_own_channel_is_never_subscribed_and_its_group_is(private_redis: RedisServer) -> None:
    async def scenario(layer: Any) -> tuple[set[bytes], set[bytes]]:
        channel = await layer.new_channel()
        alone = await asyncio.to_thread(subscriptions, private_redis)
        await layer.group_add("wallet.7", channel)
        joined = await asyncio.to_thread(subscriptions, private_redis)
        return alone, joined

    alone, joined = run(private_redis, scenario)
    assert alone == set()
    assert joined == {b"asgi__group__wallet.7"}


def test_a_group_message_reaches_every_channel_of_the_group_through_redis(private_redis: RedisServer) -> None:
    async def scenario(layer: Any) -> list[dict[str, Any]]:
        tabs = [await layer.new_channel() for _ in range(2)]
        for tab in tabs:
            await layer.group_add("wallet.7", tab)
        await asyncio.sleep(0.2)  # the subscription confirmed before the PUBLISH
        await layer.group_send("wallet.7", {"type": "wallet.event", "seq": 1})
        return [await asyncio.wait_for(layer.receive(tab), 5) for tab in tabs]

    assert run(private_redis, scenario) == [{"type": "wallet.event", "seq": 1}] * 2


def test_a_send_to_a_channel_of_this_process_arrives_as_a_copy_without_redis(private_redis: RedisServer) -> None:
    message = {"type": "wallet.event", "entry": {"amount": "1.00"}}

    async def scenario(layer: Any) -> dict[str, Any]:
        channel = await layer.new_channel()
        private_redis.stop()  # a local delivery needs no Redis
        await layer.send(channel, message)
        return await asyncio.wait_for(layer.receive(channel), 5)  # type: ignore[no-any-return]

    received = run(private_redis, scenario)
    assert received == message
    assert received["entry"] is not message["entry"]


def test_a_closed_consumers_channel_is_forgotten_and_its_group_unsubscribed(private_redis: RedisServer) -> None:
    async def scenario(layer: Any) -> tuple[bool, set[bytes]]:
        channel = await layer.new_channel()
        await layer.group_add("wallet.7", channel)
        reading = asyncio.ensure_future(layer.receive(channel))
        await asyncio.sleep(0.1)
        reading.cancel()  # what Channels does as the socket closes
        await asyncio.gather(reading, return_exceptions=True)
        await layer.group_discard("wallet.7", channel)
        inner = layer._get_layer()
        return channel in inner.channels, await asyncio.to_thread(subscriptions, private_redis)

    assert run(private_redis, scenario) == (False, set())


def test_a_group_joined_after_an_outage_gets_its_messages_though_the_process_had_joined_it_before(
    private_redis: RedisServer,
) -> None:
    async def scenario(layer: Any) -> list[dict[str, Any]]:
        before = await layer.new_channel()
        await layer.group_add("wallet.7", before)
        private_redis.stop()
        await asyncio.sleep(0.5)  # the layer's reading task finds its connection gone
        private_redis.start()
        after = await layer.new_channel()  # a socket opened once Redis is back
        await layer.group_add("wallet.7", after)
        sender = redis.asyncio.Redis.from_url(private_redis.url)
        await sender.publish("asgi__group__wallet.7", layer.serialize({"type": "wallet.event", "seq": 9}))
        await sender.aclose()
        return [await asyncio.wait_for(layer.receive(channel), 5) for channel in (before, after)]

    assert run(private_redis, scenario) == [{"type": "wallet.event", "seq": 9}] * 2


def test_joining_a_group_the_process_had_joined_fails_while_redis_is_away(private_redis: RedisServer) -> None:
    async def scenario(layer: Any) -> BaseException | None:
        await layer.group_add("wallet.7", await layer.new_channel())
        private_redis.stop()
        await asyncio.sleep(0.5)  # the layer's reading task finds its connection gone
        try:
            await layer.group_add("wallet.7", await layer.new_channel())
        except Exception as refused:  # the consumer closes such a socket with 1013
            return refused
        finally:
            private_redis.start()
        return None

    assert isinstance(run(private_redis, scenario), redis.ConnectionError)


def test_joining_fails_while_redis_is_away_after_every_socket_of_the_process_had_left(
    private_redis: RedisServer,
) -> None:
    async def scenario(layer: Any) -> BaseException | None:
        first = await layer.new_channel()
        await layer.group_add("wallet.7", first)
        await layer.group_discard("wallet.7", first)  # the connection stays open, unread
        private_redis.stop()
        await asyncio.sleep(0.5)
        try:
            await layer.group_add("wallet.8", await layer.new_channel())
        except Exception as refused:
            return refused
        finally:
            private_redis.start()
        return None

    assert isinstance(run(private_redis, scenario), redis.ConnectionError)
