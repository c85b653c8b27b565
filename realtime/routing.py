from __future__ import annotations

from django.urls import URLPattern, path

from realtime.consumers import WalletConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/wallet/", WalletConsumer.as_asgi()),
]
