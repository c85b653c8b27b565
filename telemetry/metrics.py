"""Every Prometheus metric the service's processes count, in one place (the catalogue).

Counted where the outcome is known: money movements in the wallet services
(``wallets.observe``), pushes in ``realtime.notify``, sockets in
``realtime.consumers``, rate limits in ``wallets.ratelimit``, HTTP requests and
the connection pool in ``project.observability``. The gauges read from the
database at scrape time (the ledger's seals and ``verify_ledger``) are not
here: they belong to no process (``project/observability/metrics.py``).

Several processes: with ``PROMETHEUS_MULTIPROC_DIR`` set (before this module
is first imported: prometheus-client picks its storage at import), each process
writes its figures to files in that folder and ``/metrics`` adds them up across
processes. Gauges say how (``livesum``: the sum over the processes alive now).
Label values come from closed sets (error codes, route patterns, outcomes),
never from what a client sent, so the number of series stays bounded.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# A counter's ``_created`` twin doubles the series for a figure nobody graphs.
disable_created_metrics()

# Seconds. A transfer is a few milliseconds of work (docs/performance.md): fine steps at the
# bottom, then up to the database's lock and statement timeouts (5 s, 30 s).
FAST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- Money --------------------------------------------------------------------------------

MONEY_MOVEMENTS = Counter(
    "paylane_money_movements",
    "Money movements asked of the wallet services, by type (add_money, transfer) and outcome: success; "
    "failed (recorded in the ledger as FAILED), reason the error code; refused (nothing recorded), reason the "
    "error code.",
    ["type", "outcome", "reason"],
)
TRANSFER_SECONDS = Histogram(
    "paylane_transfer_duration_seconds",
    "Time the transfer service (wallets.services.transfer_create) took, from the call to its answer, by outcome.",
    ["outcome"],
    buckets=FAST_BUCKETS,
)

# --- HTTP -----------------------------------------------------------------------------------

HTTP_SECONDS = Histogram(
    "paylane_http_request_duration_seconds",
    "HTTP requests served by Django, from the first middleware in to the response out, by method, "
    "route pattern (not the path) and status.",
    ["method", "route", "status"],
    buckets=FAST_BUCKETS,
)
RATE_LIMITED = Counter(
    "paylane_rate_limited",
    "Requests refused by a rate limit (wallets.ratelimit: money, register, signin, lookup, codes) or by the "
    "sign-in lockout (lockout).",
    ["limit"],
)

# --- Websockets and pushes -----------------------------------------------------------------

WEBSOCKETS_OPEN = Gauge(
    "paylane_websockets_open",
    "Websockets accepted and not yet closed, across the processes alive now.",
    multiprocess_mode="livesum",
)
WEBSOCKET_HANDSHAKES = Counter(
    "paylane_websocket_handshakes",
    "Websocket handshakes by outcome: accepted; unauthenticated (closed 4401: no valid credential); "
    "revoked (closed 4401: the credential was revoked while it connected); unavailable (closed 1013: the "
    "channel layer could not be reached).",
    ["outcome"],
)
PUSH_SECONDS = Histogram(
    "paylane_push_commit_to_publish_seconds",
    "Time from a ledger row's COMMIT (its on_commit callback) to the channel layer accepting its push, per "
    "message (one per party).",
    buckets=FAST_BUCKETS,
)
PUSHES_DROPPED = Counter(
    "paylane_pushes_dropped",
    "Pushes given up (clients resume from the ledger): backlog_full (the process's queue was full), "
    "error (the channel layer refused or timed out), exit (still queued when the process exited).",
    ["reason"],
)

# --- Database connection pool (PostgreSQL, Django's pool on psycopg_pool) -----------------

DB_POOL_CONNECTIONS = Gauge(
    "paylane_db_pool_connections",
    "Connections of the processes' pools: in_use (handed out) and idle, sampled each second and at each scrape.",
    ["state"],
    multiprocess_mode="livesum",
)
DB_POOL_WAITING = Gauge(
    "paylane_db_pool_waiting",
    "Requests waiting for a pooled connection, sampled each second and at each scrape.",
    multiprocess_mode="livesum",
)
