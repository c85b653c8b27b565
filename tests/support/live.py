"""Real parts for end-to-end and chaos tests: daphne and redis-server subprocesses on free loopback ports.

Every process started here is killed by the fixture or context manager that
started it, by its own pid.
"""

from __future__ import annotations

import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from deploy.ports import free_port
from tests.conftest import PIN

BASE_DIR = Path(__file__).resolve().parents[2]
DAPHNE = str(Path(sys.executable).with_name("daphne"))


def tests_database_url() -> str:
    """The URL of the database the running test uses (pytest-django's test database)."""
    s = connection.settings_dict
    user = urllib.parse.quote(s.get("USER") or "")
    password = urllib.parse.quote(s.get("PASSWORD") or "")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"postgres://{auth}{s.get('HOST') or '127.0.0.1'}:{s.get('PORT') or 5432}/{s['NAME']}"


def session_key(user: Any) -> str:
    """A logged-in session for ``user`` in the test database (its cookie value)."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def _wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class Daphne:
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/wallet/"

    @property
    def sms(self) -> Path:
        """The folder of the messages to phones this server sent (the ``file`` backend)."""
        return self.log.parent / "sms"

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def assert_no_traceback(self) -> None:
        """Fail, showing the whole log from its first traceback on, if the server logged one."""
        log = self.log.read_text(errors="replace")
        if "Traceback" in log:
            pytest.fail(f"daphne logged a traceback:\n{log[max(0, log.index('Traceback') - 2000) :]}", pytrace=False)


@contextmanager
def daphne(
    *, redis_url: str, log_dir: Path, extra_env: dict[str, str] | None = None, port: int = 0
) -> Iterator[Daphne]:
    """A daphne process serving ``project.asgi`` on a free port (or ``port``), against the test database."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    port = listener.getsockname()[1]
    log = log_dir / f"daphne-{port}.log"
    # The admin without a one-time code, as in the test process (tests/conftest.py), unless a test asks.
    env = {
        **os.environ,
        "DATABASE_URL": tests_database_url(),
        "REDIS_URL": redis_url,
        # Messages to phones as files the test can read (tests/support/sms.py).
        "PAYLANE_SMS_BACKEND": "file",
        "PAYLANE_SMS_FILE_PATH": str(log_dir / "sms"),
        "PAYLANE_ADMIN_OTP": "0",
        # Metrics as several workers keep them: every daphne of the test adds up in one folder.
        "PROMETHEUS_MULTIPROC_DIR": str(log_dir / "prometheus"),
        **(extra_env or {}),
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [DAPHNE, "--fd", str(listener.fileno()), "-v", "1", "project.asgi:application"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            pass_fds=[listener.fileno()],
        )
    listener.close()
    server = Daphne(port=port, proc=proc, log=log)
    try:
        _wait_until(lambda: proc.poll() is not None or _answers(server.http + "/"), 20, "daphne")
        assert proc.poll() is None, f"daphne exited:\n{server.output()}"
        yield server
    finally:
        _stop(proc)


def suite_redis_url() -> str:
    """The Redis of the suite's channel layer: what a daphne of the test must share with it."""
    from django.conf import settings

    hosts = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("hosts")
    assert hosts, "live tests need REDIS_URL (the PostgreSQL + Redis pass)"
    return str(hosts[0]["address"])


def _answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=1).close()
        return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class RedisServer:
    """A private redis-server (never the machine's shared one) that a test may stop and restart."""

    def __init__(self, log_dir: Path) -> None:
        exe = shutil.which("redis-server")
        assert exe, "redis-server is not installed"
        self.exe, self.port, self.log_dir = exe, free_port(), log_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--dir",
                str(self.log_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_until(self._answers, 10, "redis-server")

    def stop(self) -> None:
        if self.proc is not None:
            _stop(self.proc)
            self.proc = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class Browserless:
    """A logged-in page user over plain HTTP (session cookie + CSRF), for the form views."""

    def __init__(self, base: str, session_key: str) -> None:
        self.base = base
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        host = urllib.parse.urlsplit(base).hostname or "127.0.0.1"
        self.jar.set_cookie(_cookie("sessionid", session_key, host))

    def transfer(self, *, to_user_id: int, amount: str, pin: str = PIN) -> int:
        """POST the /transfer/ form with the PIN; the final status after the redirect (200 on success)."""
        with self.submit("/transfer/", {"to_user_id": str(to_user_id), "amount": amount, "pin": pin}) as response:
            assert response.url.endswith("/dashboard/"), f"transfer refused: {response.url}"
            return int(response.status)

    def submit(self, path: str, fields: dict[str, str]) -> Any:
        """GET ``path``'s form and POST ``fields`` with its hidden inputs (CSRF and one-time token), as a click.

        The PIN is added when the form asks for one and ``fields`` has none.
        """
        page = self.opener.open(self.base + path, timeout=10).read().decode()
        hidden = dict(re.findall(r'<input type="hidden" name="(csrfmiddlewaretoken|form_token)" value="([^"]+)"', page))
        assert "csrfmiddlewaretoken" in hidden, f"no CSRF token on {path} (not logged in?)"
        if 'name="pin"' in page and "pin" not in fields:
            fields = {**fields, "pin": PIN}
        body = urllib.parse.urlencode({**hidden, **fields}).encode()
        try:
            return self.opener.open(self.base + path, data=body, timeout=10)
        except urllib.error.HTTPError as refused:  # a refusal's page, as a response (status, read())
            return refused

    def logout(self) -> int:
        """POST the sign-out form (from the dashboard's header); the final status after the redirect."""
        page = self.opener.open(self.base + "/dashboard/", timeout=10).read().decode()
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert match, "no CSRF token on /dashboard/ (not logged in?)"
        body = urllib.parse.urlencode({"csrfmiddlewaretoken": match.group(1)}).encode()
        with self.opener.open(self.base + "/logout/", data=body, timeout=10) as response:
            return int(response.status)


def _cookie(name: str, value: str, host: str) -> http.cookiejar.Cookie:
    return http.cookiejar.Cookie(
        0, name, value, None, False, host, False, False, "/", True, False, None, False, None, None, {}
    )


@contextmanager
def task_worker(*, log_dir: Path, extra_env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    """A ``manage.py db_worker`` process against the test database, sending SMS as files in ``log_dir/sms``
    (the folder a ``daphne`` of the same ``log_dir`` writes to): what runs the outbox's tasks (alerts)."""
    env = {
        **os.environ,
        "DATABASE_URL": tests_database_url(),
        "PAYLANE_SMS_BACKEND": "file",
        "PAYLANE_SMS_FILE_PATH": str(log_dir / "sms"),
        **(extra_env or {}),
    }
    command = [sys.executable, "manage.py", "db_worker", "--no-reload", "--no-startup-delay", "--interval", "0.2"]
    with (log_dir / "worker.log").open("wb") as out:
        proc = subprocess.Popen(command, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield proc
    finally:
        _stop(proc)
