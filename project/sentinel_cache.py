"""One redis-py ``Sentinel`` per process for the cache, whatever the number of cache objects.

Under ASGI, Django gives every request its own cache object (``caches`` is
per async context), and django-redis builds a connection factory for each
(``DefaultClient.__init__``). Its ``SentinelConnectionFactory`` constructs a
new ``redis.sentinel.Sentinel`` in its ``__init__`` (a Redis client and
connection pool per sentinel): about 1.6 ms on every request, for an object
used once, since django-redis already keeps the master's pool per process
(``ConnectionFactory._pools``, keyed by LOCATION) and that pool keeps the
``Sentinel`` it was made with.

This factory keeps one ``Sentinel`` per configuration (the sentinels, their
options and the connection options) for the life of the process, and hands it
to every cache object. Failover is unaffected: the ``SentinelConnectionPool``
asks the shared ``Sentinel`` for the current master whenever it opens a
connection, and a connection to a demoted master fails and is re-made against
the new one (tests/reliability/test_redis_sentinel_failover.py).
"""

from __future__ import annotations

import threading
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django_redis.pool import ConnectionFactory, SentinelConnectionFactory
from redis.sentinel import Sentinel


class SharedSentinelConnectionFactory(SentinelConnectionFactory):  # type: ignore[type-arg]
    """django-redis's Sentinel factory, with the ``Sentinel`` made once per configuration and process."""

    _sentinels: dict[str, Sentinel] = {}
    _lock = threading.Lock()

    def __init__(self, options: dict[str, Any]) -> None:
        # The parent's, but for the Sentinel: ConnectionFactory's setup, then the shared one.
        options.setdefault("CONNECTION_POOL_CLASS", "redis.sentinel.SentinelConnectionPool")
        ConnectionFactory.__init__(self, options)
        sentinels = options.get("SENTINELS")
        if not sentinels:
            raise ImproperlyConfigured("SENTINELS must be provided as a list of (host, port).")
        connection_kwargs = self.make_connection_params("")
        connection_kwargs.pop("url")
        connection_kwargs.update(self.pool_cls_kwargs)
        sentinel_kwargs = options.get("SENTINEL_KWARGS")
        key = repr((sentinels, sorted((sentinel_kwargs or {}).items()), sorted(connection_kwargs.items())))
        with self._lock:
            sentinel = self._sentinels.get(key)
            if sentinel is None:
                sentinel = Sentinel(sentinels, sentinel_kwargs=sentinel_kwargs, **connection_kwargs)
                self._sentinels[key] = sentinel
        self._sentinel = sentinel
