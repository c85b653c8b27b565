"""``GET /metrics``: every figure of ``telemetry.metrics``, added up across processes, and the ledger's gauges.

Who may read it: with ``PAYLANE_METRICS_TOKEN`` set, a request carrying
``Authorization: Bearer <that token>`` (401 otherwise); without it, clients
on the loopback only (403 otherwise; the client address is
``wallets.clientip``'s, so behind a proxy counted in ``PAYLANE_PROXY_COUNT``
a remote client is not mistaken for the proxy). Never cached.

Several processes (``PROMETHEUS_MULTIPROC_DIR``): prometheus-client's
``MultiProcessCollector`` adds up the files every process writes (counters
and histograms summed, ``livesum`` gauges summed over the live processes).
A process that died without saying so (SIGKILL) leaves its live gauges'
files behind; each scrape removes those of processes that no longer exist,
so a crashed worker's open sockets stop counting. Without the variable the
figures are this process's own (and prometheus-client's process and Python
collectors come along).

The ledger's gauges are read from the database at scrape time, by whichever
process answers: a few index lookups (``ledger.selectors.ledger_gauges``), no
scan. When the database cannot be read, ``paylane_database_up`` is 0 and the
ledger's gauges are left out; the scrape still answers.
"""

from __future__ import annotations

import atexit
import glob
import hmac
import ipaddress
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_http_methods
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

from ledger.selectors import ledger_gauges
from telemetry.metrics import DB_POOL_CONNECTIONS, DB_POOL_WAITING
from wallets.clientip import client_ip

logger = logging.getLogger(__name__)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- Who may read ------------------------------------------------------------------------


def _is_loopback(address: str | None) -> bool:
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _refusal(request: HttpRequest) -> HttpResponse | None:
    token: str = settings.PAYLANE_METRICS_TOKEN
    if token:
        scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
            return None
        refused = HttpResponse("Send Authorization: Bearer <PAYLANE_METRICS_TOKEN>.\n", status=401)
        refused["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return refused
    if _is_loopback(client_ip(request)):
        return None
    return HttpResponse(
        "Metrics are served to the loopback only; set PAYLANE_METRICS_TOKEN to scrape from afar.\n", status=403
    )


# --- What is read ------------------------------------------------------------------------


class _ThisProcess:
    """Single process: the default registry (ours, and prometheus-client's process and Python figures)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


class _Ledger:
    def collect(self) -> Iterator[Metric]:
        try:
            gauges = ledger_gauges()
        except DatabaseError as exc:
            logger.warning("metrics: the ledger's gauges could not be read: %s", type(exc).__name__)
            yield GaugeMetricFamily("paylane_database_up", "1 when this scrape could read the database.", value=0)
            return
        yield GaugeMetricFamily("paylane_database_up", "1 when this scrape could read the database.", value=1)
        yield GaugeMetricFamily(
            "paylane_ledger_unsealed_rows",
            "Ledger ids issued after the last seal's range (rows seal_ledger has yet to seal; an upper bound).",
            value=gauges.unsealed_rows,
        )
        yield GaugeMetricFamily(
            "paylane_ledger_last_seal_timestamp_seconds",
            "When the newest seal was made (Unix time; 0: never).",
            value=gauges.last_seal_at.timestamp() if gauges.last_seal_at else 0,
        )
        run = gauges.last_verification
        yield GaugeMetricFamily(
            "paylane_ledger_last_verify_timestamp_seconds",
            "When the newest verify_ledger run finished (Unix time; 0: never).",
            value=run.finished_at.timestamp() if run else 0,
        )
        yield GaugeMetricFamily(
            "paylane_ledger_last_verify_ok",
            "1 when the newest verify_ledger run found nothing; 0 when it had findings or none ever ran.",
            value=1 if run and run.ok else 0,
        )
        yield GaugeMetricFamily(
            "paylane_ledger_last_verify_findings",
            "Findings of the newest verify_ledger run (0 when none ever ran).",
            value=run.findings if run else 0,
        )


def registry() -> CollectorRegistry:
    """What one scrape reads: every process's figures (or this one's), then the ledger's."""
    scrape = CollectorRegistry(auto_describe=False)
    path = multiprocess_dir()
    if path:
        dead_processes_forget(path)
        MultiProcessCollector(scrape, path=path)
    else:
        scrape.register(_ThisProcess())  # type: ignore[arg-type]
    scrape.register(_Ledger())  # type: ignore[arg-type]
    return scrape


_LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


def dead_processes_forget(path: str) -> None:
    """Remove the live gauges' files of processes that no longer exist (killed without ``atexit``)."""
    pids = {
        int(m.group(1)) for f in glob.glob(os.path.join(path, "gauge_live*_*.db")) if (m := _LIVE_GAUGE_FILE.search(f))
    }
    for pid in pids:
        if pid != os.getpid() and not _alive(pid):
            mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def process_exit_hook() -> None:
    """On a clean exit, this process's live gauges (open sockets, its pool) stop counting at once."""
    path = multiprocess_dir()
    if path:
        atexit.register(mark_process_dead, os.getpid(), path)


@require_http_methods(["GET", "HEAD"])
def metrics(request: HttpRequest) -> HttpResponse:
    refused = _refusal(request)
    if refused is not None:
        return refused
    pool_sample()
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    response = HttpResponse(encode(registry()), content_type=content_type)
    add_never_cache_headers(response)
    return response


# --- The connection pool, sampled --------------------------------------------------------

POOL_SAMPLE_SECONDS = 1.0
# The pool each database alias last handed a connection out of (Django makes one per alias and process).
_pools: dict[str, Any] = {}
_sampler_lock = threading.Lock()
_sampler_pid: int | None = None


def pool_sample() -> None:
    """Set this process's pool gauges from psycopg_pool's own figures (no query, no lock)."""
    in_use = idle = waiting = 0
    for pool in list(_pools.values()):
        if pool.closed:
            continue
        stats = pool.get_stats()
        in_use += stats["pool_size"] - stats["pool_available"]
        idle += stats["pool_available"]
        waiting += stats.get("requests_waiting", 0)
    DB_POOL_CONNECTIONS.labels("in_use").set(in_use)
    DB_POOL_CONNECTIONS.labels("idle").set(idle)
    DB_POOL_WAITING.set(waiting)


def pool_sampler_start(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """``connection_created`` receiver: note the pool the connection came from; the first starts the sampler.

    A thread, not a hook on checkout and return: Django's pool offers none for
    the return, and websocket queries (``database_sync_to_async``) end no
    request. Once a second is enough for a gauge scraped every few seconds.
    The pool is read from the connection just handed out (so it exists), never
    looked up from the sampler: Django's ``connection.pool`` creates a pool when
    there is none.
    """
    global _sampler_pid
    pool = getattr(connection, "pool", None) if connection is not None else None
    if pool is None:
        return
    _pools[connection.alias] = pool
    if _sampler_pid == os.getpid():
        return
    with _sampler_lock:
        if _sampler_pid == os.getpid():
            return
        _sampler_pid = os.getpid()
        threading.Thread(target=_sample_forever, name="paylane-pool-sampler", daemon=True).start()


def _sample_forever() -> None:
    while True:
        try:
            pool_sample()
        except Exception as exc:  # a gauge must never take the process down
            logger.warning("pool sampler: %r", exc)
        time.sleep(POOL_SAMPLE_SECONDS)
