"""ASGI entry point: Django for HTTP, Channels for websockets.

The Django ASGI app is built first so that apps are loaded before the
websocket routing (which imports models) is imported. Websockets authenticate
by ``Authorization: Bearer`` token (programs, any Origin) or by the session
cookie behind ``AllowedHostsOriginValidator`` (browsers); see ``realtime.auth``.
"""

from __future__ import annotations

import gc
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from project.observability.daphne_access import access_log_reroute  # noqa: E402
from realtime.auth import SessionCredentialMiddleware, TokenAuthMiddleware, TokenOrSessionAuth  # noqa: E402
from realtime.autobahn_patch import autobahn_debug_lazy  # noqa: E402
from realtime.collector import collector_tune  # noqa: E402
from realtime.daphne_close import allow_registered_close_codes  # noqa: E402
from realtime.daphne_timeouts import daphne_timeouts_spread  # noqa: E402
from realtime.routing import websocket_urlpatterns  # noqa: E402

websocket_router = URLRouter(websocket_urlpatterns)
allow_registered_close_codes()  # 1013 "try again later" (realtime/daphne_close.py)
autobahn_debug_lazy()  # debug lines formatted only when written (realtime/autobahn_patch.py)
daphne_timeouts_spread()  # pings and timeouts checked in slices, not one pass (realtime/daphne_timeouts.py)
access_log_reroute()  # daphne's access lines as JSON through the one logger (project/observability/)

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": TokenOrSessionAuth(
            # Programs: the Bearer token alone decides, with or without an Origin.
            token_app=TokenAuthMiddleware(websocket_router),
            # Browsers: the session cookie, only from an allowed Origin (else HTTP 403).
            session_app=AllowedHostsOriginValidator(AuthMiddlewareStack(SessionCredentialMiddleware(websocket_router))),
        ),
    }
)

# Everything loaded so far (Django, the apps, their modules) lives as long as the
# process: move it out of the garbage collector's reach. A full collection then
# scans only what the open connections hold, not the whole framework; with a
# thousand sockets open, collections had paused daphne for up to ~100 ms
# (docs/performance.md, connect storm).
gc.freeze()
collector_tune()  # young collections rarer: they paused pushes for 4 to 40 ms each (realtime/collector.py)
