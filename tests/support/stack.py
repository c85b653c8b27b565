"""`make serve`'s stack in a test: deploy/serve.py started as `make serve` starts it, on free ports.

It serves the test database with a private redis-server, behind its own nginx with TLS (the
self-signed certificate serve.py makes in the run folder, which the clients here trust). The
clients are a person's browser (cookies, CSRF token, Origin and Referer, as a browser sends them)
and a program (JSON and a Bearer token), both over HTTPS through the proxy.

Every process is stopped by the context manager that started it: serve.py with SIGTERM (it stops
honcho, which stops the rest), then any process honcho reported as started and still alive, by
its own pid.
"""

from __future__ import annotations

import functools
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from deploy.ports import PORTS_PER_LINE, free_upstream_base
from tests.support.live import BASE_DIR, free_port, tests_database_url

SERVE = BASE_DIR / "deploy" / "serve.py"


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    port: int
    http_port: int
    upstream_port: int
    web_processes: int
    run_dir: Path
    log: Path
    metrics_token: str

    @property
    def base(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"wss://127.0.0.1:{self.port}/ws/wallet/"

    @property
    def sms(self) -> Path:
        return self.run_dir / "sms"

    @property
    def web_ports(self) -> list[int]:
        return [self.upstream_port + i for i in range(self.web_processes)]

    @property
    def ws_port(self) -> int:
        return self.upstream_port + PORTS_PER_LINE

    def tls(self) -> ssl.SSLContext:
        """A client context that trusts only this stack's certificate, and checks it and the host name."""
        return ssl.create_default_context(cafile=str(self.run_dir / "tls" / "cert.pem"))

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def started(self) -> dict[str, int]:
        """Every process honcho started: its name (web.1, ws.1, proxy.1) and pid."""
        return {name: int(pid) for name, pid in re.findall(r"(\S+) started \(pid=(\d+)\)", self.output())}

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM to serve.py, as systemd or `docker stop` would send; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is gone for every purpose but its entry; only our own children could be one.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


@contextmanager
def serve(
    *, redis_url: str, log_dir: Path, web_processes: int = 2, extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """deploy/serve.py against the test database and ``redis_url``, until it says it is ready.

    Its run folder is a new one under /tmp, removed afterwards: nginx's workers (www-data when the
    tests run as root) must reach it, and pytest's own temporary folders are private to their owner.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="paylane-stack-"))
    run_dir.chmod(0o755)
    port, http_port, base = free_port(), free_port(), free_upstream_base(web_processes, 20000, 30000)
    metrics_token = secrets.token_urlsafe(24)
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "PAYLANE_PROCESS", "PROMETHEUS_MULTIPROC_DIR")},
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": tests_database_url(),
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PAYLANE_HTTP_PORT": str(http_port),
        "PAYLANE_UPSTREAM_PORT": str(base),
        "PAYLANE_WEB_PROCESSES": str(web_processes),
        "PAYLANE_RUN_DIR": str(run_dir),
        # Messages to phones as files the test reads (tests/support/sms.py `last_code_in_folder`).
        "PAYLANE_SMS_BACKEND": "file",
        "PAYLANE_SMS_FILE_PATH": str(run_dir / "sms"),
        "PAYLANE_METRICS_TOKEN": metrics_token,
        **(extra_env or {}),
    }
    log = log_dir / f"serve-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(SERVE)], cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    stack = Stack(proc, port, http_port, base, web_processes, run_dir, log, metrics_token)
    try:
        # The first start on a fresh machine installs nginx (deploy/install-system-packages).
        deadline = time.monotonic() + 240
        while "paylane serve: ready on" not in stack.output():
            assert proc.poll() is None, f"serve.py exited with {proc.returncode}:\n{stack.output()[-6000:]}"
            assert time.monotonic() < deadline, f"serve.py not ready in time:\n{stack.output()[-6000:]}"
            time.sleep(0.1)
        yield stack
    finally:
        try:
            stack.stop()
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        for pid in stack.started().values():
            if alive(pid):
                os.killpg(pid, signal.SIGKILL)
        shutil.rmtree(run_dir, ignore_errors=True)


# --- Clients -------------------------------------------------------------------------------------


@dataclass
class Response:
    status: int
    url: str
    headers: http.client.HTTPMessage
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


class _HTTPSFrom(urllib.request.HTTPSHandler):
    """HTTPS from a chosen loopback address (127.0.0.2 is a client other than the proxy's 127.0.0.1)."""

    def __init__(self, context: ssl.SSLContext, source: str | None) -> None:
        super().__init__(context=context)
        self.tls, self.source = context, source

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        connection = functools.partial(
            http.client.HTTPSConnection, source_address=(self.source, 0) if self.source else None
        )
        return self.do_open(connection, req, context=self.tls)  # type: ignore[arg-type]


class Client:
    """A browser or a program talking to the stack over HTTPS through nginx; redirects are followed."""

    def __init__(self, stack: Stack, *, source: str | None = None, token: str | None = None) -> None:
        self.base, self.token = stack.base, token
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            _HTTPSFrom(stack.tls(), source), urllib.request.HTTPCookieProcessor(self.jar)
        )

    def request(
        self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> Response:
        all_headers = {**({"Authorization": f"Bearer {self.token}"} if self.token else {}), **(headers or {})}
        request = urllib.request.Request(self.base + path, data=body, headers=all_headers, method=method)
        try:
            with self.opener.open(request, timeout=15) as response:
                return Response(response.status, response.url, response.headers, response.read())
        except urllib.error.HTTPError as refused:
            return Response(refused.code, refused.url, refused.headers, refused.read())

    def get(self, path: str, headers: dict[str, str] | None = None) -> Response:
        return self.request("GET", path, headers=headers)

    def api(self, method: str, path: str, data: dict[str, Any] | None = None) -> Response:
        body = json.dumps(data).encode() if data is not None else None
        return self.request(method, path, body=body, headers={"Content-Type": "application/json"})

    def submit(self, path: str, fields: dict[str, str], *, headers: dict[str, str] | None = None) -> Response:
        """Fill in the form on ``path`` and send it, as a browser does: with the page's hidden inputs
        (CSRF token, one-time form token), and the Origin and Referer of the page."""
        page = self.get(path).text
        hidden = dict(re.findall(r'<input type="hidden" name="(csrfmiddlewaretoken|form_token)" value="([^"]+)"', page))
        assert "csrfmiddlewaretoken" in hidden, f"no form with a CSRF token on {path}:\n{page[:2000]}"
        browser = {"Origin": self.base, "Referer": self.base + path}
        browser["Content-Type"] = "application/x-www-form-urlencoded"
        body = urlencode({**hidden, **fields}).encode()
        return self.request("POST", path, body=body, headers={**browser, **(headers or {})})

    def cookie(self, name: str) -> http.cookiejar.Cookie | None:
        return next((c for c in self.jar if c.name == name), None)
