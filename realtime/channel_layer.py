"""The channel layer: channels-redis's Pub/Sub layer, without a Redis subscription per socket.

Channels gives every consumer a channel of its own (``new_channel()``), and channels-redis's
``RedisPubSubChannelLayer`` subscribes to it on Redis: a ``SUBSCRIBE`` as the socket opens and an
``UNSUBSCRIBE`` as it closes, each behind the shard's lock, each confirmed by a reply the
layer's receiving task reads and drops. Paylane never sends to one consumer's channel: pushes,
revocations and the wallet's events go to groups (``realtime.notify.user_group``), which stay
subscriptions on Redis as before. So here a consumer's own channel is a queue in its process,
and a ``send()`` to a channel of this process (this event loop's layer) goes straight into it.
That is two Redis commands and their replies fewer per websocket, in a connect storm
(docs/performance.md, "Connect storm").

One thing channels-redis's SUBSCRIBE did on the side is kept: it went out on the shard's
subscription connection, so a connection lost in a Redis outage was opened again, and every group
of the process subscribed again, before the socket's hello. ``group_add`` does that now, without
a command when the connection is up: a socket opened just after an outage, to a group other
sockets of the process had joined, gets its pushes (tests/realtime/test_end_to_end.py), and one
opened while Redis is still down is refused with 1013 as before.

What it gives up: a ``send()`` from *another* process to a consumer's channel is published to
nobody and lost (``channel_layer.send(consumer.channel_name, ...)`` from a worker). Send to a
group instead, as every part of Paylane does. A channel someone ``receive()``s without
``new_channel()`` (a worker's named channel) is subscribed on Redis as in channels-redis.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from channels_redis.pubsub import RedisPubSubChannelLayer, RedisPubSubLoopLayer, RedisSingleShardConnection
from channels_redis.utils import _wrap_close


class LocalChannelLoopLayer(RedisPubSubLoopLayer):
    """One event loop's layer: consumers' own channels are local queues, groups are on Redis."""

    async def new_channel(self, prefix: str = "specific.") -> str:
        channel = f"{self.prefix}{prefix}{uuid.uuid4().hex}"
        self.channels[channel] = asyncio.Queue()
        return channel

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        queue = self.channels.get(channel)
        if queue is None:
            await super().send(channel, message)
        else:  # serialised, as from Redis: the receiver gets a copy, never the sender's dict
            queue.put_nowait(self.channel_layer.serialize(message))

    async def group_add(self, group: str, channel: str) -> None:
        shard = self._get_shard(self._get_group_channel_name(group))
        async with shard._lock:
            await _subscriptions_live(shard)
        await super().group_add(group, channel)


async def _subscriptions_live(shard: RedisSingleShardConnection) -> None:
    """The shard's subscription connection open, every group on it subscribed, or an error.

    No command when the connection is up. A connection that nothing was reading (no group
    subscribed) may have been closed by the server unnoticed: its stream is at its end, so it is
    dropped first; a SUBSCRIBE written to it would have gone nowhere without an error.
    """
    pubsub = shard._pubsub
    if pubsub is None or pubsub.connection is None:
        return  # the SUBSCRIBE to come opens it
    reader = pubsub.connection._reader
    if reader is not None and reader.at_eof():
        await pubsub.connection.disconnect()
    # Reconnects after an outage (redis-py's PubSub.on_connect subscribes every group again),
    # raises ConnectionError while Redis is away.
    await pubsub.connect()


class LocalChannelPubSubLayer(RedisPubSubChannelLayer):
    """``RedisPubSubChannelLayer`` with ``LocalChannelLoopLayer`` for each event loop (settings.CHANNEL_LAYERS)."""

    def _get_layer(self) -> RedisPubSubLoopLayer:
        loop = asyncio.get_running_loop()
        try:
            return self._layers[loop]  # type: ignore[no-any-return]
        except KeyError:
            layer = LocalChannelLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            _wrap_close(self, loop)
            return layer
