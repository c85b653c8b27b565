"""The per-process sender of pushes: the committing thread hands frames over and returns.

``realtime.notify`` builds each push's messages on the committing thread (right
after COMMIT, from what the transaction already read) and calls
:meth:`Pusher.submit`, which only appends them to a queue. One daemon thread
per process (``paylane-pusher``) takes everything waiting and sends it:

* With channels-redis's Pub/Sub layer (production): one pipelined round trip
  per batch and per Redis shard, ``PUBLISH`` after ``PUBLISH``, on a plain
  (blocking) redis-py connection of the thread's own (no pool, no
  ``Pipeline``). The bytes are the layer's own: its serializer
  (``layer.serialize``), its group channel name
  (``<prefix>__group__<group>``) and its shard choice (``_consistent_hash``),
  so consumers receive exactly what ``layer.group_send`` would have
  published. No event loop, no coroutine per message: measured in
  docs/performance.md ("Pushes"), this is what made the push cheap.
* Any other cross-process layer: ``group_send`` per message on one
  long-lived event loop of the thread's own.

Delivery is what a channel layer promises, at most once, and never at the
expense of the transfer: every send gives up after ``PUSH_TIMEOUT`` (a stalled
or unreachable Redis), the queue holds at most ``MAX_BACKLOG`` messages
(beyond, new pushes are dropped), and a process that exits waits at most
``EXIT_DRAIN`` seconds for what is still queued, then drops it. A dropped push
is counted (``paylane_pushes_dropped``) and logged; the ledger has the entry,
and the client finds out from the version of its next frame or pong and
resumes from the ledger by seq (docs/websocket.md, "What a client must do").
Messages of one process leave in the order they were submitted.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import redis
from channels.layers import BaseChannelLayer
from redis.backoff import NoBackoff
from redis.retry import Retry

from telemetry.metrics import PUSH_SECONDS, PUSHES_DROPPED

logger = logging.getLogger(__name__)

# A send (one batch to one Redis) that takes longer than this is given up: the ledger has it.
PUSH_TIMEOUT = 3.0
# Messages waiting for the sender; beyond this new pushes are dropped rather than queued without bound.
MAX_BACKLOG = 50_000
# How long an exiting process waits for its queued pushes before dropping them.
EXIT_DRAIN = 1.0

# (group, channel-layer message)
Message = tuple[str, Mapping[str, Any]]
# Sends a batch of messages, in order; returns how many were not sent and the last error (0, None: all sent).
Send = Callable[[Sequence[Message]], tuple[int, Exception | None]]


class Pusher:
    """One daemon thread that sends every push of this process (see the module docstring)."""

    _instance: Pusher | None = None
    _lock = threading.Lock()

    @classmethod
    def get(cls, layer: BaseChannelLayer) -> Pusher:
        """This process's pusher for ``layer`` (a new one after a fork, or for another layer)."""
        pusher = cls._instance
        if pusher is None or not pusher._serves(layer):
            with cls._lock:
                pusher = cls._instance
                if pusher is None or not pusher._serves(layer):
                    pusher = cls._instance = cls(layer)
        return pusher

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.pid = os.getpid()
        self.send: Send = sender_for(layer)
        # Each item: the commit's monotonic time and its messages.
        self.queue: queue.SimpleQueue[tuple[float, Sequence[Message]]] = queue.SimpleQueue()
        # Messages submitted and not yet sent or dropped (bounded by MAX_BACKLOG; flush waits for 0).
        self.backlog = 0
        self.settled = threading.Condition()
        self.thread = threading.Thread(target=self._run, name="paylane-pusher", daemon=True)
        self.thread.start()
        atexit.register(self._drain_at_exit)

    def _serves(self, layer: BaseChannelLayer) -> bool:
        return self.pid == os.getpid() and self.thread.is_alive() and self.layer is layer

    def submit(self, messages: Sequence[Message], *, committed: float) -> None:
        """Queue ``messages`` (sent in this order, after everything queued before); never blocks."""
        with self.settled:
            if self.backlog + len(messages) > MAX_BACKLOG:
                PUSHES_DROPPED.labels("backlog_full").inc(len(messages))
                logger.warning("push backlog full (%d): dropping %d message(s)", self.backlog, len(messages))
                return
            self.backlog += len(messages)
        self.queue.put((committed, messages))

    def _run(self) -> None:
        while True:
            batch = [self.queue.get()]
            while True:
                try:
                    batch.append(self.queue.get_nowait())
                except queue.Empty:
                    break
            messages = [message for _, messages in batch for message in messages]
            try:
                dropped, error = self.send(messages)
            except Exception as exc:  # a sender's bug: counted and logged like a Redis failure
                dropped, error = len(messages), exc
            if dropped:  # the ledger is the durable log; clients resume from it
                PUSHES_DROPPED.labels("error").inc(dropped)
                logger.warning("%d of %d push(es) dropped: %r", dropped, len(messages), error)
            else:
                now = time.monotonic()
                for committed, sent in batch:
                    for _ in sent:
                        PUSH_SECONDS.observe(now - committed)
            with self.settled:
                self.backlog -= len(messages)
                self.settled.notify_all()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every push submitted so far has been sent or dropped; False if ``timeout`` ran out."""
        with self.settled:
            return self.settled.wait_for(lambda: self.backlog <= 0, timeout)

    def _drain_at_exit(self) -> None:
        # Bounded: a stalled Redis never holds an exiting process. What is left is dropped.
        if self._serves(self.layer) and not self.flush(EXIT_DRAIN):
            PUSHES_DROPPED.labels("exit").inc(self.backlog)
            logger.warning("process exiting: %d queued push(es) dropped", self.backlog)


def sender_for(layer: BaseChannelLayer) -> Send:
    """How the pusher thread sends to ``layer``: pipelined PUBLISHes for the Pub/Sub layer, else group_send."""
    try:
        from channels_redis.pubsub import RedisPubSubChannelLayer
    except ImportError:  # pragma: no cover - channels-redis is a requirement
        RedisPubSubChannelLayer = None  # type: ignore[assignment,misc]
    if RedisPubSubChannelLayer is not None and isinstance(layer, RedisPubSubChannelLayer):
        return PubSubPublisher(layer)
    return LayerSender(layer)


class PubSubPublisher:
    """Publishes what ``RedisPubSubChannelLayer.group_send`` would, a batch per round trip and shard.

    Each shard is one redis-py connection of the pusher thread's own (no pool, no ``Pipeline``):
    the batch's PUBLISHes are packed and written at once, then their replies read. redis-py's
    ``Pipeline`` does the same with more around it (a command stack, the pool's lock and
    accounting, retries, its HIMPORT bookkeeping): about 62 against 39 us of CPU for a batch of two
    (docs/performance.md, "Issue 15, eighth round"). As the pool does on every checkout, the
    connection is checked before each batch: one closed by the server (a restarted Redis) is
    opened again, not found dead by the batch.
    """

    def __init__(self, layer: Any) -> None:
        from channels_redis.utils import _consistent_hash, decode_hosts

        # The layer keeps its configuration as given (``CHANNEL_LAYERS[...]["CONFIG"]``).
        config: dict[str, Any] = layer._kwargs
        self.layer = layer
        self.prefix: str = config.get("prefix", "asgi")
        self.hash = _consistent_hash
        # Kept: a Sentinel connection refers to its pool weakly. Each shard's connection is made, not
        # checked out, and not connected yet: the first batch connects (a Redis down at start fails
        # that batch only).
        self.pools = [_pool(host) for host in decode_hosts(config.get("hosts"))]
        self.shards = [pool.make_connection() for pool in self.pools]

    def channel(self, group: str) -> str:
        return f"{self.prefix}__group__{group}"

    def __call__(self, messages: Sequence[Message]) -> tuple[int, Exception | None]:
        batches: dict[int, list[tuple[str, str, bytes]]] = {}
        for group, message in messages:
            channel = self.channel(group)
            shard = self.hash(channel, len(self.shards))
            batches.setdefault(shard, []).append(("PUBLISH", channel, self.layer.serialize(message)))
        dropped, error = 0, None
        for shard, commands in batches.items():
            connection = self.shards[shard]
            try:
                _ready(connection)
                connection.send_packed_command(connection.pack_commands(commands), check_health=False)
                for _ in commands:
                    connection.read_response()
            except Exception as exc:  # this shard's batch is dropped, the connection closed; the others go on
                connection.disconnect()
                dropped, error = dropped + len(commands), exc
        return dropped, error


def _ready(connection: Any) -> None:
    """Connect ``connection`` if needed, and again if the server closed it: what the pool checks at checkout."""
    connection.connect()
    try:
        # At rest, a connection with something to read is out of step; one closed raises.
        fresh = not connection.can_read()
    except (redis.ConnectionError, redis.TimeoutError, OSError):
        fresh = False
    if not fresh:
        connection.disconnect()
        connection.connect()


def _pool(host: Mapping[str, Any]) -> redis.ConnectionPool:
    """The connections for one of the layer's hosts, as ``channels_redis.utils.create_pool`` reads it.

    Reads time out after ``PUSH_TIMEOUT`` (a PUBLISH's reply comes at once; the
    layer's own connections never time out reads, which its subscriptions need),
    and nothing is retried, a connect included: a failed batch is dropped, not sent twice later.
    """
    options = {**host, "socket_timeout": PUSH_TIMEOUT, "retry": Retry(NoBackoff(), 0)}
    options.pop("max_connections", None)
    options.setdefault("socket_connect_timeout", PUSH_TIMEOUT)
    if "address" in options:
        return redis.ConnectionPool.from_url(options.pop("address"), **options)
    if "master_name" in options:
        from redis.sentinel import Sentinel, SentinelConnectionPool

        master = options.pop("master_name")
        sentinel = Sentinel(options.pop("sentinels"), sentinel_kwargs=options.pop("sentinel_kwargs", None))
        return SentinelConnectionPool(master, sentinel, **options)
    return redis.ConnectionPool(**options)


class LayerSender:
    """``group_send`` per message, in order, on one event loop kept for the thread's life."""

    def __init__(self, layer: BaseChannelLayer) -> None:
        self.layer = layer
        self.loop: asyncio.AbstractEventLoop | None = None

    def __call__(self, messages: Sequence[Message]) -> tuple[int, Exception | None]:
        if self.loop is None:
            self.loop = asyncio.new_event_loop()
        return self.loop.run_until_complete(self._send(messages))

    async def _send(self, messages: Sequence[Message]) -> tuple[int, Exception | None]:
        dropped, error = 0, None
        for group, message in messages:
            try:
                async with asyncio.timeout(PUSH_TIMEOUT):
                    await self.layer.group_send(group, dict(message))
            except Exception as exc:
                dropped, error = dropped + 1, exc
        return dropped, error
