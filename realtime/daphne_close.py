"""Let daphne send the registered close codes 1012-1014 (service restart, try again later, bad gateway).

The websocket closes with 1013 ("Try Again Later", RFC 6455 and the IANA
registry) when the channel layer is unreachable (docs/websocket.md). autobahn,
under daphne, lets an application send only 1000 and 3000-4999
(``WebSocketProtocol.sendClose``) and raised on 1013, so the socket died with
1011 and a traceback instead. This sends those three registered codes with
autobahn's own ``sendCloseFrame`` (what ``sendClose`` itself ends in), and
leaves every other code to ``sendClose``'s checks. Applied once, from
``project/asgi.py``; tested end to end in tests/reliability/test_redis_outage.py.
"""

from __future__ import annotations

from typing import Any

# Registered close codes a server may send that autobahn's sendClose refuses.
SERVER_CODES = frozenset({1012, 1013, 1014})


def allow_registered_close_codes() -> None:
    try:
        from daphne.ws_protocol import WebSocketProtocol
    except ImportError:  # another server: nothing to patch
        return
    if getattr(WebSocketProtocol.serverClose, "paylane_patched", False):
        return
    original = WebSocketProtocol.serverClose

    def server_close(self: Any, code: int | None = None) -> None:
        if code in SERVER_CODES:
            self.sendCloseFrame(code=code, isReply=False)
        else:
            original(self, code)

    server_close.paylane_patched = True  # type: ignore[attr-defined]
    WebSocketProtocol.serverClose = server_close
