"""daphne's access log, through the one logger: JSON like every other line, and no duplicate of ours.

daphne writes its own NCSA lines (``127.0.0.1:5432 - - [..] "GET /x" 200 12``)
to stdout at its default verbosity: plain text in a JSON stream, the query
string included, and the health probes at the same level as everything else.
Its action logger (the object the command line builds from
``AccessLogGenerator``) is rerouted here, once, from ``project/asgi.py``:

* an HTTP request: DEBUG ``http_complete``. The application's own line
  (``request``, ``project.observability.middleware``) says the same at INFO
  with the request id, the route and the user.
* a websocket: ``websocket_rejected`` at INFO; ``websocket_connecting``,
  ``websocket_connected`` and ``websocket_disconnected`` at DEBUG, with the
  path and the client's address. No query string, anywhere.

Why a socket's open and close are DEBUG: nginx's access line already records
every socket, once, at its close (the client's own address, where daphne sees
only nginx's, the request id, the 101, how long it lived), and
``paylane_websocket_handshakes_total`` and ``paylane_websockets_open`` count
them. Two JSON lines at INFO were about 5 % of daphne's CPU per handshake in a
connect storm (docs/performance.md, "Issue 15, tenth round"), more behind the
log relay, for nothing those do not say.

Another server than daphne: nothing to reroute.
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

logger = structlog.get_logger("daphne.access")


def access_log_reroute() -> None:
    try:
        from daphne.access import AccessLogGenerator
    except ImportError:
        return
    if getattr(AccessLogGenerator.__call__, "paylane_patched", False):
        return

    def log_action(self: Any, protocol: str, action: str, details: dict[str, Any]) -> None:
        path = str(details.get("path") or "").split("?", 1)[0]
        if protocol == "http":
            logger.debug(
                "http_complete",
                method=details.get("method"),
                path=path,
                status=details.get("status"),
                duration=details.get("time_taken"),
                client=details.get("client"),
            )
        elif protocol == "websocket":
            level = logging.INFO if action == "rejected" else logging.DEBUG
            logger.log(level, f"websocket_{action}", path=path, client=details.get("client"))

    log_action.paylane_patched = True  # type: ignore[attr-defined]
    AccessLogGenerator.__call__ = log_action  # type: ignore[method-assign]
