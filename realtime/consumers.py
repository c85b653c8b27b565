"""The wallet websocket, ``/ws/wallet/``: hello, live transactions, resume, ping. See docs/websocket.md.

No gap, no duplicate: the socket joins the user's group *before* it reads the
state it reports (hello) or replays (resume), and it remembers the highest seq
it has covered that way (``covered_seq``). A live event at or below it is
already in what the client got and is skipped; one above it is sent. Per user,
ledger id order is commit order (every entry is inserted under its wallet's
lock), so a replay that read up to seq R has seen every entry of the user up to
R. Live events that arrive while a replay runs are held (``held``) and sent,
filtered the same way, once the replay is done.

A replay runs as a task of its own, paced per socket (``realtime.pacing``),
so it may take a while; meanwhile the socket goes on dispatching what comes
in, one message at a time: pings are answered, live events held, and a
revocation closes the socket at once (Channels dispatches a consumer's
messages in turn, so a replay run inside a handler would hold a revocation
back until it ended). A second resume supersedes a replay still running.

Revocation: the socket remembers the credential that opened it
(``scope["credential"]``). A ``wallet.revoked`` message naming it (or all of
the user's credentials) closes the socket with 4401, and nothing is sent after
it. The same check, in the database, runs after the group join, on every ping
and before every replay page: the slow path when the message was lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from typing import Any

from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from redis.exceptions import RedisError

from realtime import pacing, selectors
from realtime.events import (
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    ErrorFrame,
    RequestMessage,
    ResumedFrame,
    RevokedMessage,
    TransactionFrame,
    TransactionMessage,
    error_frame,
)
from realtime.notify import user_group
from telemetry.metrics import WEBSOCKET_HANDSHAKES, WEBSOCKETS_OPEN
from wallets.accounts.credentials import Credential, credential_is_valid
from wallets.database_unavailable import is_connection_lost

logger = logging.getLogger(__name__)

MAX_SEQ = 2**63 - 1
# Live events held while a replay runs; beyond this they are dropped, as the
# channel layer may drop them (the client sees the version gap and resumes).
MAX_HELD = 10_000

hello_if_valid = selectors.any_thread(selectors.hello_if_valid)
replay_page = selectors.any_thread(selectors.replay_page)
remaining_today_for_user = selectors.any_thread(selectors.remaining_today_for_user)
pong_if_valid = selectors.any_thread(selectors.pong_if_valid)
credential_valid = selectors.any_thread(credential_is_valid)


class WalletConsumer(AsyncJsonWebsocketConsumer):
    user_id: int | None = None
    group: str | None = None
    credential: Credential | None = None
    covered_seq: int = 0
    # Set once the socket is refused (4401): nothing is sent after that.
    refused: bool = False
    # Counted in paylane_websockets_open (from the accepted hello until disconnect).
    counted_open: bool = False
    # connect() was dispatched: from there on, refusals are connect()'s to make.
    connect_dispatched: bool = False
    # The replay running (at most one), the live events held meanwhile, and the socket's pace.
    replay: asyncio.Task[None] | None = None
    held: deque[TransactionFrame]
    pace: pacing.ReplayPace

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        except (OSError, RedisError) as exc:
            # Channels asks the layer for this socket's channel before anything is dispatched; with
            # Redis unreachable (say, a server started during an outage, which has no connection yet)
            # that raises before connect() can say "try again". Said here, in plain ASGI.
            if self.connect_dispatched:
                raise
            await self._refuse_unavailable(receive, send, exc)
        finally:
            self._replay_stop()
            self._uncount()  # a consumer ended without disconnect() (cancelled) still leaves the gauge

    async def websocket_connect(self, message: dict[str, Any]) -> None:
        self.connect_dispatched = True
        await super().websocket_connect(message)

    # Channels (4.2+) runs ``close_old_connections`` through ``sync_to_async`` on
    # Django's one thread-sensitive thread before every handler and after
    # disconnect: a thread hop per handshake, per frame and per push, each
    # queued behind every other socket's on that one thread. It closes the
    # connections *that* thread holds, and this consumer never reads there:
    # every read is an ``any_thread`` helper (realtime.selectors), which runs on
    # an executor thread and releases its connection on that thread as it
    # returns. So the two overrides below are Channels' own methods without
    # that hop (measured in docs/performance.md, sections 3 and 4;
    # tests/realtime/test_consumers.py checks no handler uses that thread).

    async def dispatch(self, message: dict[str, Any]) -> None:
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        await self.disconnect(message["code"])
        raise StopConsumer()

    @staticmethod
    async def _refuse_unavailable(receive: Any, send: Any, exc: BaseException) -> None:
        logger.warning("websocket refused, channel layer unavailable: %r", exc)
        WEBSOCKET_HANDSHAKES.labels("unavailable").inc()
        message = await receive()
        if message.get("type") == "websocket.connect":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN})

    async def connect(self) -> None:
        user = self.scope.get("user")
        credential = self.scope.get("credential")
        if user is None or not user.is_authenticated or credential is None:
            # Accepted and closed at once: a 4401 the client can read, and no data frame.
            WEBSOCKET_HANDSHAKES.labels("unauthenticated").inc()
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        group = user_group(user.pk)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:  # Redis unreachable: no live events possible, say "try again"
            logger.warning("websocket refused, channel layer unavailable: %r", exc)
            WEBSOCKET_HANDSHAKES.labels("unavailable").inc()
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        self.user_id, self.group, self.credential = user.pk, group, credential
        self.held = deque()
        self.pace = pacing.ReplayPace(rate=settings.PAYLANE_WS_REPLAY_RATE, burst=settings.PAYLANE_WS_REPLAY_BURST)
        await self.accept()
        # Checked again now that the group is joined: a revocation published
        # between the handshake's check and the join reached no one, but it
        # had committed, so this read sees it.
        try:
            hello = await hello_if_valid(user_id=user.pk, credential=credential)
        except Exception as exc:
            if not is_connection_lost(exc):
                raise
            WEBSOCKET_HANDSHAKES.labels("unavailable").inc()
            await self._close_database_lost(exc)
            return
        if hello is None:
            WEBSOCKET_HANDSHAKES.labels("revoked").inc()
            await self.refuse()
            return
        WEBSOCKET_HANDSHAKES.labels("accepted").inc()
        WEBSOCKETS_OPEN.inc()
        self.counted_open = True
        self.covered_seq = hello["last_seq"]
        await self.send_json(hello)

    async def _close_database_lost(self, exc: BaseException) -> None:
        """The database connection died (``wallets.database_unavailable``): 1013, reconnect and resume later."""
        logger.warning("websocket closed, database connection lost: %r", exc)
        await self.close(code=CLOSE_TRY_AGAIN)

    async def disconnect(self, code: int) -> None:
        self._replay_stop()
        self._uncount()
        if self.group is not None:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception as exc:  # the group entry expires by itself
                logger.info("group_discard failed: %r", exc)

    def _uncount(self) -> None:
        if self.counted_open:
            self.counted_open = False
            WEBSOCKETS_OPEN.dec()

    async def send_json(self, content: Any, close: bool = False) -> None:
        if self.refused:
            return  # after a 4401 nothing goes out, whichever handler or task asks
        await super().send_json(content, close)

    async def refuse(self) -> None:
        """Close with 4401: the credential is revoked, expired or no longer valid."""
        if self.refused:
            return
        self.refused = True
        self._replay_stop()
        await self.close(code=CLOSE_UNAUTHENTICATED)

    # --- Frames from the client ------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.user_id is None or self.refused:
            return
        if text_data is None:
            await self.send_json(error_frame("bad_frame", "Send text frames holding a JSON object."))
            return
        try:
            frame = json.loads(text_data)
        except ValueError:
            await self.send_json(error_frame("bad_frame", "The frame is not valid JSON."))
            return
        if not isinstance(frame, dict) or not isinstance(frame.get("type"), str):
            await self.send_json(error_frame("bad_frame", 'A frame is a JSON object with a string "type".'))
            return
        handler = {"resume": self.receive_resume, "ping": self.receive_ping}.get(frame["type"])
        if handler is None:
            await self.send_json(error_frame("unknown_type", f"Unknown frame type {frame['type'][:40]!r}."))
            return
        await handler(frame)

    async def receive_ping(self, frame: dict[str, Any]) -> None:
        assert self.user_id is not None and self.group is not None and self.credential is not None
        # Re-joining renews a membership the layer may have lost (the original
        # channels-redis layer expires groups after a day; a Pub/Sub subscription
        # can be dropped); for a membership that is there it changes nothing.
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
        except Exception as exc:  # no live events can reach this socket: make the client reconnect
            logger.warning("group refresh failed, closing: %r", exc)
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        try:
            pong = await pong_if_valid(user_id=self.user_id, credential=self.credential)
        except Exception as exc:
            if not is_connection_lost(exc):
                raise
            await self._close_database_lost(exc)
            return
        if pong is None:
            await self.refuse()
            return
        await self.send_json(pong)

    async def receive_resume(self, frame: dict[str, Any]) -> None:
        after_seq = frame.get("after_seq")
        if type(after_seq) is not int or not 0 <= after_seq <= MAX_SEQ:
            error: ErrorFrame = error_frame("bad_frame", '"after_seq" must be a whole number, 0 or more.')
            await self.send_json(error)
            return
        # The newest resume wins: it asks from what the client has now, which
        # covers what an older one still running would have sent.
        self._replay_stop()
        self.replay = asyncio.create_task(self._replay_then_release(after_seq))

    def _replay_stop(self) -> None:
        # A replay that stops itself (its credential check failed) just returns.
        if self.replay is not None and self.replay is not asyncio.current_task():
            self.replay.cancel()
        self.replay = None

    async def _replay_then_release(self, after_seq: int) -> None:
        try:
            await self._replay(after_seq)
            # Live events held meanwhile, in the order they came. Each send may
            # let more arrive; they join the queue, so none is left behind.
            while self.held:
                held = self.held.popleft()
                if held["seq"] > self.covered_seq:
                    await self.send_json(held)
        except asyncio.CancelledError:
            raise
        except Exception:  # e.g. the database went away mid-replay: reconnect and resume
            logger.exception("replay failed, closing")
            await self.close(code=CLOSE_TRY_AGAIN)
        finally:
            # No await between the last look at `held` and this: from here live events go out directly.
            if self.replay is asyncio.current_task():
                self.replay = None

    async def _replay(self, after_seq: int) -> None:
        assert self.user_id is not None and self.credential is not None
        page_size: int = getattr(settings, "PAYLANE_WS_REPLAY_PAGE_SIZE", 200)
        cursor = after_seq
        while True:
            # The slow path of a revocation: a replay can last minutes.
            if not await credential_valid(user_id=self.user_id, credential=self.credential):
                await self.refuse()
                return
            page = await replay_page(user_id=self.user_id, after_seq=cursor, limit=page_size)
            await self.pace.take(len(page))
            for transaction in page:
                await self.send_json(transaction)
            if page:
                cursor = page[-1]["seq"]
            if len(page) < page_size:
                break
        # Everything up to `cursor` is now with the client (replayed or, by its own word, already had).
        self.covered_seq = max(self.covered_seq, cursor)
        resumed: ResumedFrame = {
            "type": "resumed",
            "last_seq": cursor,
            "remaining_today": await remaining_today_for_user(user_id=self.user_id),
        }
        await self.send_json(resumed)

    # --- Messages from the channel layer (realtime.notify) -----------------------------

    async def wallet_transaction(self, message: TransactionMessage) -> None:
        # No database access here: the frame comes complete from realtime.notify.
        frame = message["frame"]
        if message["user_id"] != self.user_id or self.refused:
            return
        if self.replay is not None:
            if len(self.held) < MAX_HELD:
                self.held.append(frame)
            return
        if frame["seq"] > self.covered_seq:
            await self.send_json(frame)

    async def wallet_request(self, message: RequestMessage) -> None:
        # Not in the ledger's sequence: sent at once, even during a replay (the replay carries no requests).
        if message["user_id"] != self.user_id or self.refused:
            return
        await self.send_json(message["frame"])

    async def wallet_revoked(self, message: RevokedMessage) -> None:
        if message["user_id"] != self.user_id or self.credential is None:
            return
        if message["credential"] is None or message["credential"] == self.credential.name:
            await self.refuse()
