"""The pool's check of a connection it hands out: a look at its socket, and a round trip only when that finds news.

``CONN_HEALTH_CHECKS`` makes Django give psycopg's pool ``ConnectionPool.check_connection`` as its
``check``: an empty query, one round trip to PostgreSQL, on every checkout. A request checks out
once, a websocket handshake twice (its token lookup and its hello run on executor threads, each
with its own checkout): one round trip in five of an API transfer's, two in four of a
handshake's database work (docs/performance.md).

An idle connection in the pool has nothing to read: PostgreSQL only speaks when asked. When it
ends a connection (``pg_terminate_backend``, a restart or a failover's shutdown, an idle timeout)
it sends the reason (a FATAL ``ErrorResponse``) and closes, and the kernel closes a socket whose
peer vanished with a reset: either way the socket turns readable. So the check first asks the
kernel, without a round trip, whether the idle socket has anything to read (``poll`` with no
wait); only then does it send the empty query, which fails on a dead connection and makes the
pool open a new one, as before. The same idea as go-sql-driver/mysql's ``checkConnLiveness`` (a
non-blocking read before a pooled connection is reused). A peer that vanished without a word (a
host gone, a firewall that dropped the flow) leaves the socket quiet; the empty query would not
have caught it either (it waits for TCP to give up): TCP keepalives and the statement timeout do.
"""

from __future__ import annotations

import select
from typing import Any

from psycopg_pool import ConnectionPool


def socket_has_news(conn: Any) -> bool:
    """Whether the connection's idle socket is readable now (something arrived: a goodbye, a reset)."""
    poller = select.poll()
    poller.register(conn.pgconn.socket, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def connection_check(conn: Any) -> None:
    """The pool's ``check``: quiet for a live idle connection, raising for a dead one."""
    if conn.closed or socket_has_news(conn):
        ConnectionPool.check_connection(conn)
