"""Spread daphne's ping and timeout checks over its 2 s period instead of one pass over every socket.

daphne (4.2.3) checks every connection once every 2 s in one synchronous pass
(``Server.timeout_checker``), and that pass sends each websocket whose
``ping_interval`` (20 s) has run out its ping (``WebSocketProtocol.check_timeouts``,
autobahn's ``_sendAutoPing``: a frame written through twisted's reactor). With
thousands of sockets open, about a tenth of them ping in the same pass (all
of those that connected together, after a deploy or a storm), and the event
loop delivers nothing else meanwhile: a py-spy profile of daphne holding
1,000 sockets in the latency benchmark's steady phase put a third of its GIL
time in that pass, and pushes wait behind it (docs/performance.md, section 3).

This runs the same checks on a twentieth of the connections every 0.1 s,
each connection always in the same twentieth (by its ``id``): every connection
is still checked once per 2 s, so pings, the connect timeout and the
websocket timeout keep daphne's own bounds; only the pass is cut in slices.
Nothing daphne does is skipped. Applied once, from ``project/asgi.py``, to the
daphne versions in ``TESTED_VERSIONS`` (another is left as it is, with a
warning); tests/realtime/test_daphne_timeouts.py checks the slicing and that
the running server has it. Upstream, the same change would be a few lines in
``Server.timeout_checker``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

logger = structlog.get_logger(__name__)

TESTED_VERSIONS = frozenset({"4.2.3"})
# daphne's period: each connection is checked once per PERIOD seconds.
PERIOD = 2.0
SLICES = 20
# Scheduler (twisted's reactor.callLater by default); a test may put a clock of its own here.
call_later: Callable[..., Any] | None = None


def slice_of(protocol: Any) -> int:
    """The slice a connection is checked in: fixed for its whole life."""
    return (id(protocol) >> 4) % SLICES


def timeout_checker(self: Any) -> None:
    """``Server.timeout_checker``, a slice per call: each connection's ``check_timeouts`` once per PERIOD."""
    current = getattr(self, "paylane_timeout_slice", 0)
    for protocol in list(self.connections.keys()):
        if slice_of(protocol) == current:
            protocol.check_timeouts()
    self.paylane_timeout_slice = (current + 1) % SLICES
    if call_later is not None:
        call_later(PERIOD / SLICES, self.timeout_checker)
    else:
        from twisted.internet import reactor

        reactor.callLater(PERIOD / SLICES, self.timeout_checker)  # type: ignore[arg-type]  # zope interface stub


timeout_checker.paylane_patched = True  # type: ignore[attr-defined]


def daphne_timeouts_spread() -> bool:
    """Install :func:`timeout_checker` on daphne's ``Server``; True when it is in force."""
    try:
        import daphne
        from daphne.server import Server
    except ImportError:  # another server: nothing to patch
        return False
    if getattr(Server.timeout_checker, "paylane_patched", False):
        return True
    if daphne.__version__ not in TESTED_VERSIONS:
        logger.warning("daphne_timeouts_skipped", daphne=daphne.__version__, tested=sorted(TESTED_VERSIONS))
        return False
    Server.timeout_checker = timeout_checker
    return True
