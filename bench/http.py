"""`http`: transfers through `make serve`'s stack (nginx with TLS, the HTTP workers), against the
service called directly with as many database connections, in the same run.

deploy/serve.py starts the stack on free ports against the benchmark database and Redis
(``bench/stack.py``: the Procfile's web, ws and proxy lines). ``--clients`` keep-alive HTTPS
connections to nginx POST ``/api/v1/transfers/`` with a Bearer token, the payer's PIN and a fresh
``Idempotency-Key`` on every request: wrk's (``bench/wrk.py``, one C thread whose CPU leaves the
server under test the cores), or with ``--client python`` as many Python processes (``http.client``).
The service level is ``wallets.payments.payment_send`` (the PIN's check, the transfer, its push
through Redis: what the API view calls) in ``--processes`` worker processes, one database
connection each: as many as the ``--processes`` HTTP workers hold (one sync worker, one
connection). The runs alternate: service, HTTP, service, HTTP, service (``--rounds`` HTTP runs);
each HTTP run's ratio is its transfers/s over the mean of the service runs just before and after
it, and the figure is their median, so a drift of a shared machine's speed moves both sides of
each ratio.

Pages (production server only): signed-in people GET ``/dashboard/``, and pay on ``/transfer/``:
GET the form (its one-time form token and CSRF token), POST it (302 to the dashboard).

``--servers daphne,uvicorn,gunicorn,gunicorn-uvicorn,uwsgi,granian`` (or ``all``) compares HTTP servers,
each in the ``web`` line in turn; the default runs the one deploy/Procfile runs.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import shutil
import socket
import ssl
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import cpu_parts, harness, netem, wrk
from bench.stack import SERVERS, Stack, production_server, serve
from bench.transfers import PIN, wallets_create

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"
STACK_ENV = {
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PAYLANE_TRANSFER_RATE": "1000000/s",  # measure the stack, not the rate limiter's refusals
    "PAYLANE_REGISTER_RATE": "1000/m",  # the person of person_join, at every run
    "PAYLANE_SMS_BACKEND": harness.SMS_BACKEND,
    "PAYLANE_SMS_FILE_PATH": str(harness.SMS_FOLDER),
}


# Bare daphnes on loopback ports, no proxy: the websocket benchmarks' servers (bench/ws.py).
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def daphnes_start(
    count: int, database_url: str, redis_url: str, extra_env: dict[str, str] | None = None
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "0",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "benchmark-only-secret-key-" + "x" * 40),
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PAYLANE_TRANSFER_RATE": "1000000/s",  # measure the stack, not the rate limiter's refusals
        "PAYLANE_REGISTER_RATE": "1000/m",  # the person of person_join, at every run
        "PAYLANE_SMS_BACKEND": harness.SMS_BACKEND,
        "PAYLANE_SMS_FILE_PATH": str(harness.SMS_FOLDER),
        **(extra_env or {}),
    }
    ports = [free_port() for _ in range(count)]
    prefix = os.environ.get("PAYLANE_BENCH_DAPHNE_PREFIX", "").split()  # e.g. "-m cProfile -o /tmp/d.prof"
    # PAYLANE_BENCH_WS_SERVER=uvicorn or granian: the same ASGI application under uvicorn (uvloop,
    # httptools, websockets-sansio) or granian, for a comparison of websocket servers (CPU and RSS
    # counted with the worker granian forks); deploy/Procfile's is daphne.
    server = os.environ.get("PAYLANE_BENCH_WS_SERVER", "daphne")

    def command(port: int) -> list[str]:
        if server == "granian":
            # granian: HTTP and the websocket handshake parsed in Rust, the application on one asyncio loop.
            options = ["--interface", "asginl", "--loop", "uvloop", "--workers", "1", "--runtime-mode", "st"]
            options += ["--log-level", "warning"]
            return [sys.executable, *prefix, "-m", "granian", "--host", "127.0.0.1", "--port", str(port), *options]
        if server == "uvicorn":
            options = ["--loop", "uvloop", "--http", "httptools", "--ws", "websockets-sansio", "--log-level", "warning"]
            return [sys.executable, *prefix, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), *options]
        return [sys.executable, *prefix, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port)]

    procs = [
        subprocess.Popen(
            [*command(port), "project.asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for port in ports
    ]
    deadline = time.monotonic() + 30
    for port in ports:
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daphne on port {port} did not start") from None
                time.sleep(0.1)
    return procs, ports


def connection(stack: Stack) -> http.client.HTTPSConnection:
    """A keep-alive HTTPS connection to the stack's nginx, trusting its certificate alone."""
    context = ssl.create_default_context(cafile=str(stack.cafile))
    return http.client.HTTPSConnection("127.0.0.1", stack.port, timeout=30, context=context)


def _call(stack: Stack, method: str, path: str, body: dict[str, Any], token: str = "") -> dict[str, Any]:
    conn = connection(stack)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    conn.request(method, "/api/v1" + path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    answer: dict[str, Any] = json.loads(response.read() or b"{}")
    conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: HTTP {response.status} {answer}")
    return answer


def person_join(stack: Stack, mobile: str) -> tuple[int, str]:
    """One more payer who walks in as a person does, on the API: sign up, the code read off the ``file``
    SMS backend, a PIN, money in. Proves the benchmark's path still has every step a person's has."""
    password = "benchmark person " + mobile
    shutil.rmtree(harness.SMS_FOLDER, ignore_errors=True)  # no code of an earlier run
    user = _call(
        stack,
        "POST",
        "/auth/register/",
        {"username": f"person{mobile[-6:]}", "password": password, "mobile_number": mobile},
    )
    token = _call(stack, "POST", "/auth/token/", {"username": user["username"], "password": password})["token"]
    deadline = time.monotonic() + 10
    while True:
        sent = [json.loads(p.read_text()) for p in sorted(harness.SMS_FOLDER.glob("*.json"), reverse=True)]
        codes = [re.findall(r"\b[0-9]{6}\b", m["body"]) for m in sent if m["to"] == mobile]
        if codes and codes[0]:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"no code reached {mobile} in {harness.SMS_FOLDER}")
        time.sleep(0.05)
    _call(stack, "POST", "/auth/mobile/verify/", {"code": codes[0][0]}, token)
    _call(stack, "PUT", "/auth/pin/", {"pin": PIN}, token)
    _call(stack, "POST", "/wallet/top-ups/", {"amount": "100000.00"}, token)
    return int(user["user_id"]), token


def api_job(stack: Stack, tokens: dict[int, str], user_ids: list[int]) -> Callable[[int], Callable[[], None]]:
    """POST /api/v1/transfers/ as a program does: Bearer token, PIN, a new Idempotency-Key each time."""
    return api_transfers(lambda: connection(stack), tokens, user_ids)


def api_transfers(
    connect: Callable[[], http.client.HTTPConnection], tokens: dict[int, str], user_ids: list[int]
) -> Callable[[int], Callable[[], None]]:
    """A client per index, on its own keep-alive connection (``connect()``), paying between random
    pairs of ``user_ids`` with their Bearer token, the PIN and a new Idempotency-Key each time."""

    def make(index: int) -> Callable[[], None]:
        conn = connect()
        rng = random.Random(index)

        def transfer() -> None:
            sender, receiver = rng.sample(user_ids, 2)
            body = json.dumps({"to_user_id": receiver, "amount": "1.00", "pin": PIN})
            headers = {
                "Authorization": f"Bearer {tokens[sender]}",
                "Content-Type": "application/json",
                "Idempotency-Key": uuid.uuid4().hex,
            }
            conn.request("POST", "/api/v1/transfers/", body=body, headers=headers)
            response = conn.getresponse()
            answer = response.read()
            if response.status != 201:
                raise RuntimeError(f"HTTP {response.status}: {answer[:300]!r}")

        return transfer

    return make


def service_job(user_ids: list[int]) -> Callable[[int], Callable[[], None]]:
    """What the API view calls, called directly: ``payment_send`` (PIN, transfer, push)."""

    def make(index: int) -> Callable[[], None]:
        from wallets import payments
        from wallets.models import User

        # Its log lines (one per transfer, as the HTTP workers write) go nowhere, not over the tables.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.close(devnull)
        rng = random.Random(index)
        users = User.objects.in_bulk(user_ids)

        def transfer() -> None:
            sender, receiver = rng.sample(user_ids, 2)
            payments.payment_send(sender=users[sender], pin=PIN, amount="1.00", to_user_id=receiver)

        return transfer

    return make


def sessions_create(user_ids: list[int]) -> dict[int, str]:
    """A signed-in session for each of ``user_ids``, as the sign-in form leaves one: its cookie's value."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from wallets.models import User

    cookies = {}
    for user in User.objects.filter(pk__in=user_ids):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[-1]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        cookies[user.pk] = session.session_key or ""
    return cookies


class Browser:
    """One person's browser on the pages: cookies, and Origin and Referer as a browser sends them."""

    def __init__(self, stack: Stack, session: str) -> None:
        from django.conf import settings

        self.conn = connection(stack)
        self.origin = f"https://127.0.0.1:{stack.port}"
        self.cookies = {settings.SESSION_COOKIE_NAME: session}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> tuple[int, str]:
        from urllib.parse import urlencode

        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if form is not None:
            body = urlencode(form)
            headers |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
                "Referer": self.origin + path,
            }
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        text = response.read().decode()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page) or re.search(rf'value="([^"]*)" name="{name}"', page)
    if not found:
        raise RuntimeError(f"no {name} on the page")
    return found.group(1)


def dashboard_job(stack: Stack, sessions: dict[int, str]) -> Callable[[int], Callable[[], None]]:
    def make(index: int) -> Callable[[], None]:
        people = list(sessions)
        browser = Browser(stack, sessions[people[index % len(people)]])

        def dashboard() -> None:
            status, _ = browser.request("GET", "/dashboard/")
            if status != 200:
                raise RuntimeError(f"HTTP {status}")

        return dashboard

    return make


def page_transfer_job(stack: Stack, sessions: dict[int, str]) -> Callable[[int], Callable[[], None]]:
    """One operation: GET /transfer/ (the form, its one-time token), then its POST."""

    def make(index: int) -> Callable[[], None]:
        people = list(sessions)
        me = people[index % len(people)]
        browser = Browser(stack, sessions[me])
        rng = random.Random(index)

        def transfer() -> None:
            status, page = browser.request("GET", "/transfer/")
            if status != 200:
                raise RuntimeError(f"GET HTTP {status}")
            receiver = rng.choice([p for p in people if p != me])
            form = {
                "csrfmiddlewaretoken": _hidden(page, "csrfmiddlewaretoken"),
                "form_token": _hidden(page, "form_token"),
                "to_user_id": str(receiver),
                "amount": "1.00",
                "pin": PIN,
            }
            status, page = browser.request("POST", "/transfer/", form)
            if status != 302:
                raise RuntimeError(f"POST HTTP {status}")

        return transfer

    return make


def server_compare(
    server: str | None, args: argparse.Namespace, tokens: dict[int, str], user_ids: list[int], pages: bool
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """One stack with ``server``: service, HTTP, service again; then the pages. Rows and the ratio."""
    rows: list[dict[str, Any]] = []
    with serve(
        server=server,
        web_processes=args.processes,
        database_url=args.database_url,
        redis_url=args.redis_url,
        env=STACK_ENV,
    ) as stack:
        name = stack.server
        if not any(pk for pk in tokens if pk not in user_ids):  # once: a person joins the payers
            joined, token = person_join(stack, "+917199999999")
            tokens[joined] = token
        proxied_before = stack.proxied()
        # service, API, service, API, ..., service: each API run between two service runs, so a
        # drift of the machine's speed (other work on a shared host) moves both sides of each ratio.
        service = ("service", service_job(user_ids), args.processes)
        api = ("api", api_job(stack, tokens, [*tokens]), args.clients)
        meter = cpu_parts.Meter(args.database_url, args.redis_url, stack)
        for kind, job, workers in [service, *[api, service] * args.rounds]:
            label = f"{kind}/{name}"
            before = meter.snapshot()
            if kind == "api" and args.client == "wrk":
                url = f"https://127.0.0.1:{stack.port}"
                run: harness.Run | wrk.WrkRun = wrk.transfers(
                    label, url, tokens, PIN, connections=workers, seconds=args.seconds
                )
            else:
                run = harness.measure(label, job, workers=workers, seconds=args.seconds)
            after, summary = meter.snapshot(), run.summary()
            split = cpu_parts.per_op(before, after, summary["ops"], children="clients" if kind == "api" else "workers")
            rows.append({"server": name, "kind": kind, "processes": args.processes, **summary, "cpu_ms": split})
        time.sleep(0.5)  # nginx's access lines reach the log
        proxied = stack.proxied() - proxied_before
        if pages:
            sessions = sessions_create(user_ids[: max(2, args.clients)])
            for kind, job in (
                ("dashboard GET", dashboard_job(stack, sessions)),
                ("page transfer GET+POST", page_transfer_job(stack, sessions)),
            ):
                run = harness.measure(f"{kind}/{name}", job, workers=args.clients, seconds=args.seconds)
                rows.append({"server": name, "kind": kind, "processes": args.processes, **run.summary()})
    ratio = {
        "server": name,
        "processes": args.processes,
        "clients": args.clients,
        **alternation_ratio([r for r in rows if r["kind"] in ("service", "api")]),
        "proxied_requests": proxied,
        # Milliseconds of the machine's CPU per transfer by part, each part's median over the runs.
        "cpu_ms_per_transfer": {
            kind: cpu_parts.median([r["cpu_ms"] for r in rows if r["kind"] == kind]) for kind in ("api", "service")
        },
    }
    return rows, ratio


def alternation_ratio(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """API transfers/s over the service's, from runs alternating service, API, service, ...: each
    API run against the mean of the service runs just before and after it; the median of those."""
    pairs = [
        (runs[i]["per_second"], statistics.fmean([runs[i - 1]["per_second"], runs[i + 1]["per_second"]]))
        for i in range(1, len(runs) - 1, 2)
    ]
    ratios = [api / service for api, service in pairs if service]
    return {
        "api_per_second": round(statistics.median(api for api, _ in pairs), 1),
        "service_per_second": round(statistics.median(service for _, service in pairs), 1),
        "ratios": [round(r, 3) for r in ratios],
        "ratio": round(statistics.median(ratios), 3) if ratios else None,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench http", description=__doc__)
    parser.add_argument("--database-url", default=harness.DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--wallets", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--processes", type=int, default=4, help="HTTP worker processes (PAYLANE_WEB_PROCESSES) = service workers"
    )
    parser.add_argument(
        "--servers",
        default="production",
        help=f"comma-separated, from {','.join(SERVERS)}; 'all'; 'production' (deploy/Procfile's)",
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument(
        "--rounds", type=int, default=2, help="API runs, each between two service runs (the ratio: their median)"
    )
    parser.add_argument(
        "--client",
        choices=("wrk", "python"),
        default="wrk",
        help="the API runs' load generator: wrk (bench/wrk.py) or --clients Python processes (http.client)",
    )
    parser.add_argument("--no-pages", action="store_true", help="skip the dashboard and page-transfer runs")
    parser.add_argument("--name", default="http")
    parser.add_argument("--rtt", type=float, metavar="MS", help=netem.RTT_HELP)
    args = parser.parse_args(argv)
    production = production_server()
    names = list(SERVERS) if args.servers == "all" else args.servers.split(",")
    servers = [production if n == "production" else n for n in names]
    unknown = set(servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers: {sorted(unknown)}")
    with netem.across(args.rtt, args.database_url) as args.database_url:  # the stack's DATABASE_URL too
        return _run(args, servers, production)


def _run(args: argparse.Namespace, servers: list[str], production: str) -> dict[str, Any]:
    harness.database_recreate(args.database_url)
    harness.django_setup(args.database_url, args.redis_url)
    user_ids = wallets_create(args.wallets)
    from wallets.accounts.tokens import token_issue
    from wallets.models import User

    tokens = {u.pk: token_issue(user=u) for u in User.objects.filter(pk__in=user_ids)}
    harness.database_settle(args.database_url)

    rows: list[dict[str, Any]] = []
    ratios: list[dict[str, Any]] = []
    for server in servers:
        server_rows, ratio = server_compare(
            None if server == production else server,
            args,
            tokens,
            user_ids,
            pages=server == production and not args.no_pages,
        )
        rows += server_rows
        ratios.append(ratio)

    from django.core.management import call_command

    harness.connections_release()
    call_command("verify_ledger", verbosity=0)
    print(harness.table(rows, ["label", "processes", "workers", "ops", "errors", "per_second", "p50_ms", "p99_ms"]))
    print()
    for r in ratios:
        mark = " (production)" if r["server"] == production else ""
        print(
            f"RATIO http/service  {r['server']}{mark}: {r['ratio']}  (median of {r['ratios']}; "
            f"API {r['api_per_second']}/s through nginx, {r['clients']} clients; service {r['service_per_second']}/s, "
            f"{r['processes']} processes = {r['processes']} database connections; target >= 0.5)"
        )
        for kind, split in r["cpu_ms_per_transfer"].items():
            parts = ", ".join(f"{part} {ms}" for part, ms in sorted(split.items(), key=lambda kv: -kv[1]))
            print(f"  CPU ms per {kind} transfer, by part: {parts}")
    payload = {"args": vars(args), "production_server": production, "runs": rows, "ratios": ratios}
    print(f"wrote {harness.write_results(args.name, payload)}")
    return payload
