"""The client's address, for every per-address limit (sign-up, sign-in, django-axes' lockouts).

django-ipware reads it. ``PAYLANE_PROXY_COUNT`` says how many reverse proxies
stand between the clients and this service, each appending the address it
saw to ``X-Forwarded-For`` (nginx's ``$proxy_add_x_forwarded_for``, HAProxy's
``option forwardfor``):

* ``0`` (the default): no proxy. The socket's peer (``REMOTE_ADDR``) is the
  client and every forwarded header is ignored, since a client can write any.
* ``N >= 1``: the client is the N-th address from the right of
  ``X-Forwarded-For``; entries to its left were written by the client and are
  ignored. Without the header the peer is used.

Behind a proxy with the default of 0, every client shares the proxy's
address, and so one bucket per limit: set the count (docs/security.md).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, or None when the request has none (a request built in code)."""
    proxies: int = settings.PAYLANE_PROXY_COUNT
    if proxies > 0:
        # ipware counts the proxies *inside* the header: ours are all but the last (the peer).
        address, _ = get_client_ip(
            request, proxy_count=proxies - 1, request_header_order=["HTTP_X_FORWARDED_FOR"], strict=False
        )
        if address:
            return address
    address, _ = get_client_ip(request, request_header_order=["REMOTE_ADDR"])
    return address
