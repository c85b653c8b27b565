"""`http`: transfers through the real stack — daphne, the JSON API, Bearer tokens.

Starts ``--daphnes`` daphne processes on loopback ports against the benchmark
database and Redis (channel layer and rate-limit cache), then N client
processes, each with one keep-alive connection, POST ``/api/v1/transfers/``
with the payer's PIN (checked on every transfer, as for a person) round-robin
over the daphnes (a client-side stand-in for a load balancer).
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
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import harness, netem
from bench.transfers import PIN, wallets_create

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/9"


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
    procs = [
        subprocess.Popen(
            [sys.executable, *prefix, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "project.asgi:application"],
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


def _call(port: int, method: str, path: str, body: dict[str, Any], token: str = "") -> dict[str, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    conn.request(method, "/api/v1" + path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    answer: dict[str, Any] = json.loads(response.read() or b"{}")
    conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: HTTP {response.status} {answer}")
    return answer


def person_join(port: int, mobile: str) -> tuple[int, str]:
    """One more payer who walks in as a person does, on the API: sign up, the code read off the ``file``
    SMS backend, a PIN, money in. Proves the benchmark's path still has every step a person's has."""
    password = "benchmark person " + mobile
    shutil.rmtree(harness.SMS_FOLDER, ignore_errors=True)  # no code of an earlier run
    user = _call(
        port,
        "POST",
        "/auth/register/",
        {"username": f"person{mobile[-6:]}", "password": password, "mobile_number": mobile},
    )
    token = _call(port, "POST", "/auth/token/", {"username": user["username"], "password": password})["token"]
    deadline = time.monotonic() + 10
    while True:
        sent = [json.loads(p.read_text()) for p in sorted(harness.SMS_FOLDER.glob("*.json"), reverse=True)]
        codes = [re.findall(r"\b[0-9]{6}\b", m["body"]) for m in sent if m["to"] == mobile]
        if codes and codes[0]:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"no code reached {mobile} in {harness.SMS_FOLDER}")
        time.sleep(0.05)
    _call(port, "POST", "/auth/mobile/verify/", {"code": codes[0][0]}, token)
    _call(port, "PUT", "/auth/pin/", {"pin": PIN}, token)
    _call(port, "POST", "/wallet/top-ups/", {"amount": "100000.00"}, token)
    return int(user["user_id"]), token


def client_job(ports: list[int], tokens: dict[int, str], user_ids: list[int]) -> Callable[[int], Callable[[], None]]:
    def make(index: int) -> Callable[[], None]:
        port = ports[index % len(ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        rng = random.Random(index)

        def transfer() -> None:
            sender, receiver = rng.sample(user_ids, 2)
            body = json.dumps({"to_user_id": receiver, "amount": "1.00", "pin": PIN})
            conn.request(
                "POST",
                "/api/v1/transfers/",
                body=body,
                headers={"Authorization": f"Bearer {tokens[sender]}", "Content-Type": "application/json"},
            )
            response = conn.getresponse()
            response.read()
            if response.status != 201:
                raise RuntimeError(f"HTTP {response.status}")

        return transfer

    return make


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench http", description=__doc__)
    parser.add_argument("--database-url", default=harness.DEFAULT_DATABASE_URL)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS_URL)
    parser.add_argument("--wallets", type=int, default=1_000)
    parser.add_argument("--clients", default="1,8,16")
    parser.add_argument("--daphnes", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--name", default="http")
    parser.add_argument("--rtt", type=float, metavar="MS", help=netem.RTT_HELP)
    args = parser.parse_args(argv)
    with netem.across(args.rtt, args.database_url) as args.database_url:  # the stack's DATABASE_URL too
        return _run(args)


def _run(args: argparse.Namespace) -> dict[str, Any]:
    harness.database_recreate(args.database_url)
    harness.django_setup(args.database_url)
    user_ids = wallets_create(args.wallets)
    from wallets.accounts.tokens import token_issue
    from wallets.models import User

    tokens = {u.pk: token_issue(user=u) for u in User.objects.filter(pk__in=user_ids)}

    rows: list[dict[str, Any]] = []
    for daphnes in [int(d) for d in args.daphnes.split(",")]:
        procs, ports = daphnes_start(daphnes, args.database_url, args.redis_url)
        try:
            if len(tokens) == len(user_ids):  # once: the person joins the benchmark's payers
                joined, token = person_join(ports[0], "+917199999999")
                tokens[joined] = token
                user_ids.append(joined)
            for clients in [int(c) for c in args.clients.split(",")]:
                run = harness.measure(
                    f"http/{daphnes}-daphne", client_job(ports, tokens, user_ids), workers=clients, seconds=args.seconds
                )
                rows.append({"daphnes": daphnes, "clients": clients, **run.summary()})
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(10)

    from django.core.management import call_command

    call_command("verify_ledger", verbosity=0)
    print(harness.table(rows, ["label", "clients", "ops", "errors", "per_second", "p50_ms", "p99_ms"]))
    payload = {"args": vars(args), "runs": rows}
    print(f"wrote {harness.write_results(args.name, payload)}")
    return payload
