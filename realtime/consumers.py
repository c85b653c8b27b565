"""The wallet websocket, ``/ws/wallet/``: hello, live transactions, resume, ping. See docs/websocket.md.

No gap, no duplicate: the socket joins the user's group *before* it reads the
state it reports (hello) or replays (resume), and it remembers the highest seq
it has covered that way (``covered_seq``). A live event at or below it is
already in what the client got and is skipped; one above it is sent. Per user,
ledger id order is commit order (every entry is inserted under its wallet's
lock), so a replay that read up to seq R has seen every entry of the user up to
R. Live events that arrive while a replay is read wait in the channel layer
(Channels dispatches one message at a time per consumer) and are filtered
when the replay is done.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from realtime import selectors
from realtime.events import (
    CLOSE_TRY_AGAIN,
    CLOSE_UNAUTHENTICATED,
    ErrorFrame,
    ResumedFrame,
    TransactionMessage,
    error_frame,
)
from realtime.notify import user_group

logger = logging.getLogger(__name__)

MAX_SEQ = 2**63 - 1

hello_for_user = selectors.any_thread(selectors.hello_for_user)
replay_page = selectors.any_thread(selectors.replay_page)
remaining_today_for_user = selectors.any_thread(selectors.remaining_today_for_user)
pong_for_user = selectors.any_thread(selectors.pong_for_user)


class WalletConsumer(AsyncJsonWebsocketConsumer):
    user_id: int | None = None
    group: str | None = None
    covered_seq: int = 0

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Accepted and closed at once: a 4401 the client can read, and no data frame.
            await self.accept()
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        group = user_group(user.pk)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
        except Exception as exc:  # Redis unreachable: no live events possible, say "try again"
            logger.warning("websocket refused, channel layer unavailable: %r", exc)
            await self.accept()
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        self.user_id, self.group = user.pk, group
        await self.accept()
        hello = await hello_for_user(user_id=user.pk)
        self.covered_seq = hello["last_seq"]
        await self.send_json(hello)

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            try:
                await self.channel_layer.group_discard(self.group, self.channel_name)
            except Exception as exc:  # the group entry expires by itself
                logger.info("group_discard failed: %r", exc)

    # --- Frames from the client ------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any) -> None:
        if self.user_id is None:
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
        assert self.user_id is not None and self.group is not None
        # Re-joining renews a membership the layer may have lost (the original
        # channels-redis layer expires groups after a day; a Pub/Sub subscription
        # can be dropped); for a membership that is there it changes nothing.
        try:
            await self.channel_layer.group_add(self.group, self.channel_name)
        except Exception as exc:  # no live events can reach this socket: make the client reconnect
            logger.warning("group refresh failed, closing: %r", exc)
            await self.close(code=CLOSE_TRY_AGAIN)
            return
        await self.send_json(await pong_for_user(user_id=self.user_id))

    async def receive_resume(self, frame: dict[str, Any]) -> None:
        after_seq = frame.get("after_seq")
        if type(after_seq) is not int or not 0 <= after_seq <= MAX_SEQ:
            error: ErrorFrame = error_frame("bad_frame", '"after_seq" must be a whole number, 0 or more.')
            await self.send_json(error)
            return
        assert self.user_id is not None
        page_size: int = getattr(settings, "PAYLANE_WS_REPLAY_PAGE_SIZE", 200)
        cursor = after_seq
        while True:
            page = await replay_page(user_id=self.user_id, after_seq=cursor, limit=page_size)
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
        if message["user_id"] != self.user_id or frame["seq"] <= self.covered_seq:
            return
        await self.send_json(frame)
