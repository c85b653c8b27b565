"""`make serve`'s stack for a benchmark: deploy/serve.py on free ports, nginx with TLS in front.

The stack runs as `make serve` runs it (its checks, its nginx configuration, its self-signed
certificate, honcho) with the Procfile's ``web``, ``ws`` and ``proxy`` lines. The task worker and
the scheduler are left out: they are not on a request's path, and the worker would spend the
benchmark's CPU sending the transfers' security alerts (the service-level side sends none either).
``server`` replaces the ``web`` line's HTTP server (``SERVERS``); ``None`` keeps deploy/Procfile's.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench import harness
from deploy.ports import free_port, free_upstream_base

ROOT = Path(__file__).resolve().parents[1]
SERVE = ROOT / "deploy" / "serve.py"
PROCFILE = ROOT / "deploy" / "Procfile"

# One HTTP server per `web` process, one worker each, on honcho's $PORT: nginx spreads the requests
# over PAYLANE_WEB_PROCESSES of them, as in production.
SERVERS = {
    "daphne": 'exec daphne --bind 127.0.0.1 --port "$PORT" -v 1 project.asgi:application',
    "uvicorn": (
        'exec uvicorn --host 127.0.0.1 --port "$PORT" --no-access-log --lifespan off --loop uvloop '
        "--http httptools project.asgi:application"
    ),
    "gunicorn": 'exec gunicorn --bind "127.0.0.1:$PORT" --workers 1 --timeout 60 project.wsgi:application',
    # One thread: one request and one database connection at a time, as the sync worker, but nginx's
    # upstream connections are kept alive (the sync worker closes each after its response).
    "gunicorn-gthread": (
        'exec gunicorn --bind "127.0.0.1:$PORT" --workers 1 --worker-class gthread --threads 1 --timeout 60 '
        "project.wsgi:application"
    ),
    "gunicorn-uvicorn": (
        'exec gunicorn --bind "127.0.0.1:$PORT" --workers 1 --timeout 60 '
        "--worker-class uvicorn_worker.UvicornWorker project.asgi:application"
    ),
    # uWSGI (requirements-bench.txt, compiled at install): HTTP parsed and the WSGI environ built in C.
    # A master (harakiri, gunicorn's --timeout) and one worker that loads the application itself
    # (--lazy-apps: the pusher's thread would not survive a fork). It answers HTTP/1.1 and closes the
    # connection after each response, as the sync worker does; the header tells nginx not to reuse it.
    "uwsgi": (
        'exec uwsgi --http-socket "127.0.0.1:$PORT" --module project.wsgi:application --master --lazy-apps '
        "--processes 1 --add-header 'Connection: close' --enable-threads --single-interpreter --need-app "
        "--die-on-term --harakiri 60 --disable-logging --buffer-size 32768 --strict"
    ),
    "granian": (
        'exec granian --interface wsgi --host 127.0.0.1 --port "$PORT" --workers 1 --blocking-threads 1 '
        "--no-ws project.wsgi:application"
    ),
}


def production_server() -> str:
    """Which of ``SERVERS`` deploy/Procfile's ``web`` line runs."""
    line = _procfile_line("web")
    markers = {"gunicorn-uvicorn": "uvicorn_worker", "gunicorn-gthread": "gthread"}
    for name in ("gunicorn-uvicorn", "gunicorn-gthread", "granian", "uwsgi", "gunicorn", "uvicorn", "daphne"):
        if markers.get(name, SERVERS[name].split()[1]) in line:
            return name
    raise RuntimeError(f"deploy/Procfile's web line runs no server the benchmark knows: {line}")


def _procfile_line(name: str) -> str:
    for line in PROCFILE.read_text().splitlines():
        if line.startswith(f"{name}:"):
            return line
    raise RuntimeError(f"deploy/Procfile has no {name}: line")


def procfile_for(server: str | None) -> str:
    """deploy/Procfile's web, ws and proxy lines, verbatim but for the web line's server."""
    web = _procfile_line("web")
    if server is not None and server != production_server():
        web = f"web: PAYLANE_PROCESS=web {SERVERS[server]}"
    return "\n".join([web, _procfile_line("ws"), _procfile_line("proxy")]) + "\n"


@dataclass
class Stack:
    proc: subprocess.Popen[bytes]
    server: str
    port: int
    web_processes: int
    run_dir: Path
    log: Path

    @property
    def cafile(self) -> Path:
        return self.run_dir / "tls" / "cert.pem"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def proxied(self) -> int:
        """How many requests nginx's access log shows it passed to a web worker."""
        return len(re.findall(r"proxy\.1 .* upstream=127\.0\.0\.1:\d+", self.output()))


@contextmanager
def serve(
    *, server: str | None, web_processes: int, database_url: str, redis_url: str, env: dict[str, str]
) -> Iterator[Stack]:
    """deploy/serve.py with ``server`` in the web line, until it says it is ready; SIGTERM after."""
    run_dir = Path(tempfile.mkdtemp(prefix="paylane-bench-"))
    run_dir.chmod(0o755)  # nginx's workers (www-data when run as root) read in here
    procfile = run_dir / "Procfile"
    procfile.write_text(procfile_for(server))
    port = free_port()
    serve_env = {
        **{k: v for k, v in os.environ.items() if k not in ("DEBUG", "PAYLANE_PROCESS", "PROMETHEUS_MULTIPROC_DIR")},
        **env,
        # The benchmark's own: its PIN hashes and sessions are peppered and signed with it.
        "SECRET_KEY": os.environ["SECRET_KEY"],
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "PAYLANE_UPSTREAM_PORT": str(free_upstream_base(web_processes, 30000, 32000)),
        "PAYLANE_WEB_PROCESSES": str(web_processes),
        "PAYLANE_RUN_DIR": str(run_dir),
        "PAYLANE_PROCFILE": str(procfile),
        "PAYLANE_SERVE_MIGRATE": "0",  # the benchmark migrated its database
    }
    log = harness.RESULTS / f"serve-{port}.log"
    harness.RESULTS.mkdir(exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, str(SERVE)], cwd=ROOT, env=serve_env, stdout=out, stderr=out)
    stack = Stack(proc, server or production_server(), port, web_processes, run_dir, log)
    try:
        deadline = time.monotonic() + 240  # a fresh machine installs nginx first
        while "paylane serve: ready on" not in stack.output():
            if proc.poll() is not None:
                raise RuntimeError(f"serve.py exited with {proc.returncode}:\n{stack.output()[-4000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"serve.py not ready in time:\n{stack.output()[-4000:]}")
            time.sleep(0.1)
        yield stack
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        log.unlink(missing_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)
