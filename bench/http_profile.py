"""`http_profile`: CPU of one API transfer in-process, against the service called directly, with a profile.

No server and no network: Django's WSGI handler (what gunicorn's sync worker calls) is handed
``--requests`` POST ``/api/v1/transfers/`` requests as gunicorn hands them over behind nginx
(Bearer token, PIN, a new ``Idempotency-Key`` each, X-Forwarded-For/-Proto), then
``payments.payment_send`` (what the view calls) is called as many times. Both against the
benchmark database and Redis (pushes leave, rate-limit counters count), alternated ``--rounds``
times; reported: CPU ms per operation (``time.process_time``) of each and their ratio, and with
``--profile`` pyinstrument's top frames of one round of each (the text into ``--name``.txt).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from bench import harness
from bench.http import DEFAULT_REDIS_URL
from bench.transfers import PIN, wallets_create
from bench.ws import cpu_seconds


def api_caller(tokens: dict[int, str], user_ids: list[int]) -> Callable[[], None]:
    from django.core.handlers.wsgi import WSGIHandler

    handler = WSGIHandler()
    rng = random.Random(1)
    statuses: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], object]:
        statuses.append(status)
        return lambda data: None

    def call() -> None:
        sender, receiver = rng.sample(user_ids, 2)
        body = json.dumps({"to_user_id": receiver, "amount": "1.00", "pin": PIN}).encode()
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/api/v1/transfers/",
            "QUERY_STRING": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.0",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_X_FORWARDED_FOR": "198.51.100.7",
            "HTTP_X_FORWARDED_PROTO": "https",
            "HTTP_AUTHORIZATION": f"Bearer {tokens[sender]}",
            "HTTP_IDEMPOTENCY_KEY": uuid.uuid4().hex,
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": io.StringIO(),
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
            "wsgi.version": (1, 0),
        }
        response = handler(environ, start_response)
        b"".join(response)
        response.close()  # type: ignore[attr-defined]  # request_finished: the connection goes back
        if not statuses[-1].startswith("201"):
            raise RuntimeError(f"HTTP {statuses[-1]}")

    return call


def service_caller(user_ids: list[int]) -> Callable[[], None]:
    from django.db import close_old_connections

    from wallets import payments
    from wallets.models import User

    rng = random.Random(2)
    users = User.objects.in_bulk(user_ids)

    def call() -> None:
        sender, receiver = rng.sample(user_ids, 2)
        payments.payment_send(sender=users[sender], pin=PIN, amount="1.00", to_user_id=receiver)
        close_old_connections()  # as at the end of a request: the same pool round trip

    return call


def cpu_ms(call: Callable[[], None], count: int) -> float:
    began = time.process_time()
    for _ in range(count):
        call()
    return (time.process_time() - began) * 1000 / count


def postgres_backends(database_url: str) -> list[int]:
    """The process ids of the database's client backends (this process's connections), if they run here."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchall()
    return [pid for (pid,) in rows if os.path.exists(f"/proc/{pid}/stat")]


def cpu_ms_with_postgres(call: Callable[[], None], count: int, database_url: str) -> tuple[float, float | None]:
    """CPU ms per call in this process, and in PostgreSQL's backends (None when they are not on this machine)."""
    backends = postgres_backends(database_url)
    before = cpu_seconds(backends) if backends else 0.0
    here = cpu_ms(call, count)
    return here, (cpu_seconds(backends) - before) * 1000 / count if backends else None


POSTGRES_KEYS = ("api_postgres_cpu_ms", "service_postgres_cpu_ms")


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench http_profile", description=__doc__)
    parser.add_argument("--database-url", default=harness.DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--wallets", type=int, default=200)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="pyinstrument over one more round of each")
    parser.add_argument("--name", default="http_profile")
    args = parser.parse_args(argv)

    os.environ.setdefault("PAYLANE_TRANSFER_RATE", "1000000/s")
    os.environ.setdefault("PAYLANE_PROXY_COUNT", "1")
    os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1")
    harness.database_recreate(args.database_url)
    harness.django_setup(args.database_url, args.redis_url)
    import logging

    logging.disable(logging.INFO)  # the log lines' formatting stays in; the terminal stays readable
    user_ids = wallets_create(args.wallets)
    from wallets.accounts.tokens import token_issue
    from wallets.models import User

    tokens = {u.pk: token_issue(user=u) for u in User.objects.filter(pk__in=user_ids)}
    api, service = api_caller(tokens, user_ids), service_caller(user_ids)
    api(), service()  # warm: imports, compiled statements, pool
    rounds: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        api_cpu, api_postgres = cpu_ms_with_postgres(api, args.requests, args.database_url)
        service_cpu, service_postgres = cpu_ms_with_postgres(service, args.requests, args.database_url)
        rounds.append(
            {
                "api_cpu_ms": api_cpu,
                "service_cpu_ms": service_cpu,
                "api_postgres_cpu_ms": api_postgres,
                "service_postgres_cpu_ms": service_postgres,
            }
        )
    api_ms = statistics.median(r["api_cpu_ms"] for r in rounds)
    service_ms = statistics.median(r["service_cpu_ms"] for r in rounds)
    print(f"API transfer in-process   {api_ms:.3f} ms of CPU each (median of {args.rounds} rounds of {args.requests})")
    print(f"service call (payment_send) {service_ms:.3f} ms of CPU each")
    print(f"RATIO api/service CPU: {api_ms / service_ms:.2f}   (API overhead {api_ms - service_ms:.3f} ms)")
    postgres = {}
    if all(r["api_postgres_cpu_ms"] is not None and r["service_postgres_cpu_ms"] is not None for r in rounds):
        postgres = {key: round(statistics.median(r[key] for r in rounds), 3) for key in POSTGRES_KEYS}
        print(
            f"PostgreSQL's CPU: {postgres['api_postgres_cpu_ms']:.3f} ms per API transfer, "
            f"{postgres['service_postgres_cpu_ms']:.3f} ms per service call"
        )
    profiles = {}
    if args.profile:
        from pyinstrument import Profiler

        for label, call in (("api", api), ("service", service)):
            profiler = Profiler(interval=0.0005)
            profiler.start()
            for _ in range(args.requests):
                call()
            profiler.stop()
            profiles[label] = profiler.output_text(unicode=False, color=False, show_all=False)
        harness.RESULTS.mkdir(exist_ok=True)
        path = harness.RESULTS / f"{args.name}.txt"
        path.write_text("\n".join(f"==== {k}\n{v}" for k, v in profiles.items()))
        print(f"profiles in {path}")
    payload = {
        "args": vars(args),
        "rounds": rounds,
        "api_cpu_ms": round(api_ms, 3),
        "service_cpu_ms": round(service_ms, 3),
        "ratio": round(api_ms / service_ms, 3),
        **postgres,
    }
    print(f"wrote {harness.write_results(args.name, payload)}")
    return payload
