"""The pace of a websocket's replays: a token bucket per socket.

A ``resume`` from 0 replays a user's whole history. Unpaced, a client asking
again and again makes the server read and send history as fast as it can, for
as long as it likes. Each socket gets one bucket for its whole life: ``burst``
entries at once, then ``rate`` entries a second, shared by all its resumes, so
asking again never makes a replay faster. Pacing only waits; it never drops
or reorders an entry.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# Module attributes, so a test can run a bucket on a clock of its own.
monotonic: Callable[[], float] = time.monotonic
sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


class ReplayPace:
    """``take(n)`` returns once ``n`` more entries may go: at most ``burst + rate * t`` entries in any ``t`` seconds.

    A ``rate`` of 0 or less paces nothing.
    """

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        clock: Callable[[], float] | None = None,
        wait: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.rate = rate
        self.burst = max(burst, 0)
        self.clock = clock or monotonic
        self.wait = wait or sleep
        self.tokens = float(self.burst)
        self.updated = self.clock()

    async def take(self, n: int) -> None:
        if self.rate <= 0:
            return
        now = self.clock()
        self.tokens = min(float(self.burst), self.tokens + (now - self.updated) * self.rate) - n
        self.updated = now
        # In debt: wait until the debt is paid. The time spent waiting refills the
        # bucket by exactly the debt, so the next take starts from zero.
        if self.tokens < 0:
            await self.wait(-self.tokens / self.rate)
