#!/usr/bin/env python3
"""`make serve`: Paylane in production mode on one host, with one command.

What it does, in order (docs/operations.md, "Processes"):

1. Reads its settings from the environment and refuses to start without the production ones:
   ``SECRET_KEY`` from the environment (never the development ``.env``), PostgreSQL
   (``DATABASE_URL``) and Redis (``REDIS_URL``). It runs the application with ``DEBUG=0`` and
   ``PAYLANE_PROXY_COUNT=1`` (nginx appends the client's address to ``X-Forwarded-For``).
2. Installs Debian's nginx and openssl when missing (``deploy/install-system-packages``).
3. Renders ``deploy/nginx.conf`` and ``deploy/proxy_headers.conf`` into the run folder with this
   start's ports and paths, and a self-signed certificate there when ``PAYLANE_TLS_CERT`` is unset.
4. ``manage.py check --deploy`` (warnings fail), ``migrate`` (unless ``PAYLANE_SERVE_MIGRATE=0``),
   ``collectstatic``.
5. Starts ``deploy/Procfile`` (or ``PAYLANE_PROCFILE``) with honcho (``deploy/relay.py``: honcho's
   ``start`` with one thread relaying every process's output): the HTTP workers (gunicorn on
   ``project/wsgi.py``), the websocket server (daphne on ``project/asgi.py``), nginx.
6. Waits until every worker answers ``/readyz`` and nginx does too, then prints
   ``paylane serve: ready on https://HOST:PORT/``.

``serve.py --ready`` asks a running stack the same through nginx: exit 0 when it answers.

SIGTERM or SIGINT stops honcho, which stops every process (SIGTERM, then SIGKILL after 5 s).
If any process exits, honcho stops the others and this script exits with its status: a
supervisor (systemd, the container runtime) restarts the whole stack.

Standard library only: it runs before anything else is known to work.
"""

from __future__ import annotations

import http.client
import ipaddress
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import NoReturn

BASE_DIR = Path(__file__).resolve().parent.parent
DEPLOY = BASE_DIR / "deploy"
# project/settings.py's STATIC_ROOT: collectstatic writes there and nginx serves it.
STATIC_ROOT = BASE_DIR / "staticfiles"
MIME_TYPES = Path("/etc/nginx/mime.types")  # Debian's nginx-common
# honcho's ports: the n-th Procfile line's processes get base + 100 * n, + 1 per process.
PORTS_PER_LINE = 100
# The readiness probe: /readyz answers 200 when the database and Redis are reachable and every
# migration is applied (docs/operations.md, "Health").
HEALTH_PATH = "/readyz"


def say(message: str) -> None:
    print(f"paylane serve: {message}", flush=True)


def fail(message: str) -> NoReturn:
    print(f"paylane serve: {message}", file=sys.stderr, flush=True)
    sys.exit(2)


@dataclass(frozen=True)
class Settings:
    host: str
    port: int
    http_port: int | None
    public_port: int
    upstream_port: int
    web_processes: int
    run_dir: Path
    own_run_dir: bool
    tls_cert: Path | None
    tls_key: Path | None
    migrate: bool
    jobs: bool
    procfile: Path

    @property
    def web_ports(self) -> list[int]:
        return [self.upstream_port + i for i in range(self.web_processes)]

    @property
    def ws_port(self) -> int:
        return self.upstream_port + PORTS_PER_LINE

    @property
    def connect_host(self) -> str:
        return connect_host(self.host)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}/"


def connect_host(host: str) -> str:
    """Where a client on this host reaches the proxy: a wildcard address means loopback."""
    return {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)


def _int(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, "").strip() or str(default)
    if not text.isdigit() or not low <= int(text) <= high:
        fail(f"{name} must be a whole number from {low} to {high}, not {text!r}")
    return int(text)


def settings_from(env: dict[str, str]) -> Settings:
    """This start's settings, from the environment; a clear refusal for anything missing or wrong."""
    host = env.get("HOST", "").strip() or "127.0.0.1"
    port = _int(env, "PORT", 8000, 1, 65535)
    http_port = _int(env, "PAYLANE_HTTP_PORT", 0, 0, 65535) or None
    # The HTTPS port clients use, where the plain-HTTP redirect sends them: PORT, unless a port
    # mapping in front (a container's) publishes it as another.
    public_port = _int(env, "PAYLANE_PUBLIC_PORT", port, 1, 65535)
    web_processes = _int(env, "PAYLANE_WEB_PROCESSES", 4, 1, 64)
    upstream_port = _int(env, "PAYLANE_UPSTREAM_PORT", 8100, 1024, 65535 - 3 * PORTS_PER_LINE)
    upstream = set(range(upstream_port, upstream_port + 3 * PORTS_PER_LINE))
    if port in upstream or http_port in upstream:
        fail(f"PORT/PAYLANE_HTTP_PORT fall among the workers' ports (PAYLANE_UPSTREAM_PORT={upstream_port} and up)")
    cert, key = env.get("PAYLANE_TLS_CERT", "").strip(), env.get("PAYLANE_TLS_KEY", "").strip()
    if bool(cert) != bool(key):
        fail("PAYLANE_TLS_CERT and PAYLANE_TLS_KEY go together (the certificate chain and its private key)")
    for path in (cert, key):
        if path and not Path(path).is_file():
            fail(f"no such file: {path}")
    # Another Procfile with the same first lines (web, ws, proxy): `bench http --servers` runs the
    # stack with each HTTP server it compares. Production runs deploy/Procfile.
    procfile = Path(env.get("PAYLANE_PROCFILE", "").strip() or DEPLOY / "Procfile").resolve()
    if not procfile.is_file():
        fail(f"PAYLANE_PROCFILE: no such file: {procfile}")
    run_dir_text = env.get("PAYLANE_RUN_DIR", "").strip()
    if run_dir_text:
        run_dir, own = Path(run_dir_text).resolve(), False
    else:
        run_dir, own = Path(tempfile.mkdtemp(prefix="paylane-serve-")), True
    return Settings(
        host=host,
        port=port,
        http_port=http_port,
        public_port=public_port,
        upstream_port=upstream_port,
        web_processes=web_processes,
        run_dir=run_dir,
        own_run_dir=own,
        tls_cert=Path(cert).resolve() if cert else None,
        tls_key=Path(key).resolve() if key else None,
        migrate=env.get("PAYLANE_SERVE_MIGRATE", "1").strip().lower() not in ("0", "false", "no", "off"),
        # PAYLANE_SERVE_JOBS=0: no task worker and no scheduler on this host (a cluster runs them on
        # one host of several: deploy/cluster/).
        jobs=env.get("PAYLANE_SERVE_JOBS", "1").strip().lower() not in ("0", "false", "no", "off"),
        procfile=procfile,
    )


def production_checks(env: dict[str, str]) -> None:
    """Refuse to start without the production settings; warn about the risky ones."""
    if env.get("DEBUG", "0").strip().lower() not in ("", "0", "false", "no", "off"):
        fail("DEBUG is on: make serve is production mode (unset DEBUG, or use `make run` to develop)")
    # Not "SECRET_KEY" in the .env that `make` writes for development: settings.py would read
    # that one if the environment had none, and a production host would run on a development key.
    if not env.get("SECRET_KEY", "").strip():
        fail(
            "SECRET_KEY is not set in the environment. make serve is production mode and does not take "
            "secrets from the development .env; e.g. "
            "export SECRET_KEY=\"$(python3 -c 'import secrets; print(secrets.token_urlsafe(50))')\""
        )
    if not re.match(r"(postgres|postgresql|pgsql)://", env.get("DATABASE_URL", "")):
        fail("DATABASE_URL must name a PostgreSQL database (postgres://user:password@host:5432/name)")
    if not re.match(r"rediss?://", env.get("REDIS_URL", "")) and not env.get("REDIS_SENTINELS", "").strip():
        fail(
            "REDIS_URL must name a Redis server (redis://host:6379/0), or REDIS_SENTINELS its sentinels "
            "(host:26379,host:26379,host:26379): the HTTP workers reach the websocket "
            "server's clients, and share their rate limits, only through it"
        )
    proxies = env.get("PAYLANE_PROXY_COUNT", "").strip() or "1"
    if not proxies.isdigit() or int(proxies) < 1:
        fail(
            f"PAYLANE_PROXY_COUNT={proxies!r}: behind nginx it is at least 1 (more if a load balancer in front "
            "appends to X-Forwarded-For too), else every client shares nginx's address in the rate limits"
        )
    if env.get("PAYLANE_SMS_BACKEND", "console").strip() == "console":
        say(
            "warning: PAYLANE_SMS_BACKEND is console: messages to phones, one-time codes included, are "
            "printed to this log. Set a provider's backend (docs/api.md) before real users sign up."
        )
    if env.get("HOST", "").strip() in ("0.0.0.0", "::") and not env.get("ALLOWED_HOSTS", "").strip():
        say("warning: ALLOWED_HOSTS is not set: only requests for localhost, 127.0.0.1 and [::1] are served")


def production_env(env: dict[str, str], settings: Settings) -> dict[str, str]:
    """The environment of every process: ``env`` (secrets only from there) with production settings."""
    bin_dirs = [str(Path(sys.executable).parent), "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
    out = {
        **env,
        "DEBUG": "0",
        "PAYLANE_PROXY_COUNT": env.get("PAYLANE_PROXY_COUNT", "").strip() or "1",
        "PAYLANE_RUN_DIR": str(settings.run_dir),
        "PATH": os.pathsep.join([*bin_dirs, env.get("PATH", "")]),
        # For prometheus-client's multiprocess mode (the metrics work of #14): one folder shared by
        # every process of this start, emptied at each start (see render()).
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR") or str(settings.run_dir / "prometheus"),
    }
    # manage.py decides it per command (web processes get the database timeouts); the Procfile sets
    # it for each line. An inherited value must not decide it for them.
    out.pop("PAYLANE_PROCESS", None)
    return out


def install_packages() -> None:
    result = subprocess.run([str(DEPLOY / "install-system-packages")], check=False)
    if result.returncode != 0:
        fail("could not install nginx and openssl (above)")


def nginx_worker_user() -> str | None:
    """The user nginx's workers run as: Debian's www-data when started as root, else ourselves."""
    if os.geteuid() != 0:
        return None
    for name in ("www-data", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    return None


def readable_by_others(path: Path) -> bool:
    """Whether a user other than the owner can reach ``path`` (each parent o+x, the folder o+rx)."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH or (parent == path and not mode & stat.S_IROTH):
            return False
    return True


def self_signed_certificate(settings: Settings) -> tuple[Path, Path]:
    """A certificate for HOST valid 30 days, made with openssl, its key readable by us alone."""
    folder = settings.run_dir / "tls"
    # Closed while openssl writes the key; opened (the certificate is for clients to trust) once
    # the key is ours alone.
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    cert, key = folder / "cert.pem", folder / "key.pem"
    names = {"DNS:localhost", "IP:127.0.0.1", "IP:::1"}
    try:
        names.add(f"IP:{ipaddress.ip_address(settings.host)}")
    except ValueError:
        names.add(f"DNS:{settings.host}")
    names -= {"IP:0.0.0.0", "IP:::"}
    command = [
        "openssl", "req", "-x509", "-nodes", "-days", "30",
        "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-subj", "/CN=Paylane self-signed",
        "-addext", "subjectAltName=" + ",".join(sorted(names)),
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-keyout", str(key), "-out", str(cert),
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        fail(f"openssl could not make a certificate: {result.stderr.strip()}")
    key.chmod(0o600)
    cert.chmod(0o644)
    folder.chmod(0o755)
    say(f"no PAYLANE_TLS_CERT: serving a self-signed certificate ({cert}); browsers will warn")
    return cert, key


def listen(host: str, port: int) -> str:
    """nginx's ``listen`` address: an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def http_redirect(settings: Settings) -> str:
    """The plain-HTTP server of nginx.conf (PAYLANE_HTTP_PORT): a redirect to the public HTTPS port."""
    if not settings.http_port:
        return ""
    suffix = "" if settings.public_port == 443 else f":{settings.public_port}"
    return (
        "    # Plain HTTP (PAYLANE_HTTP_PORT): nothing but a redirect to the TLS listener.\n"
        "    server {\n"
        f"        listen {listen(settings.host, settings.http_port)};\n"
        "        server_name _;\n"
        f"        return 301 https://$host{suffix}$request_uri;\n"
        "    }\n"
    )


def render(settings: Settings, env: dict[str, str]) -> None:
    """deploy/nginx.conf and proxy_headers.conf into the run folder, with this start's ports and paths."""
    run = settings.run_dir
    run.mkdir(parents=True, exist_ok=True)
    # nginx's workers (www-data when we are root) create scratch files in here.
    run.chmod(0o755)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (run / "nginx" / sub).mkdir(parents=True, exist_ok=True)
    metrics_dir = Path(env["PROMETHEUS_MULTIPROC_DIR"])
    if metrics_dir == run / "prometheus":
        shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True, exist_ok=True)
    if settings.tls_cert and settings.tls_key:
        cert, key = settings.tls_cert, settings.tls_key
    else:
        cert, key = self_signed_certificate(settings)
    user = nginx_worker_user()
    STATIC_ROOT.mkdir(exist_ok=True)  # collectstatic fills it later (prepare); a fresh clone has none yet
    if user and not readable_by_others(STATIC_ROOT):
        say(f"warning: nginx's workers run as {user} and cannot read {STATIC_ROOT}: static files will fail")
    if not MIME_TYPES.is_file():
        fail(f"{MIME_TYPES} is missing (Debian's nginx-common installs it)")

    values = {
        "USER": f"user {user};" if user else "# (not started as root: the workers run as the user who started nginx)",
        "RUN_DIR": str(run),
        "MIME_TYPES": str(MIME_TYPES),
        "STATIC_ROOT": str(STATIC_ROOT),
        "TLS_CERT": str(cert),
        "TLS_KEY": str(key),
        "LISTEN": listen(settings.host, settings.port),
        "WS_PORT": str(settings.ws_port),
        "WEB_SERVERS": "\n".join(
            f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=5s;" for port in settings.web_ports
        ),
        "HTTP_REDIRECT": http_redirect(settings),
    }
    for name in ("nginx.conf", "proxy_headers.conf"):
        template = (DEPLOY / name).read_text()
        unknown = set(re.findall(r"@([A-Z_]+)@", template)) - values.keys()
        if unknown:
            fail(f"deploy/{name} names values serve.py does not have: {sorted(unknown)}")
        text = re.sub(r"@([A-Z_]+)@", lambda m: values[m.group(1)], template)
        (run / name).write_text(text)


def manage(env: dict[str, str], *args: str) -> None:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=False)
    if result.returncode != 0:
        fail(f"manage.py {' '.join(args)} failed (above)")


def prepare(settings: Settings, env: dict[str, str]) -> None:
    # Every production setting Django knows how to check; a warning is a refusal to start.
    manage(env, "check", "--deploy", "--fail-level", "WARNING")
    if settings.migrate:
        manage(env, "migrate", "--noinput")
    manage(env, "collectstatic", "--noinput", "-v0")


def probe(host: str, port: int, path: str, *, tls: bool, host_header: str) -> int | None:
    """The status of GET ``path``, or None when nothing answers."""
    if tls:
        # Our own proxy on this host: whether it answers, not whether its certificate is trusted.
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=2, context=context)
    else:
        conn = http.client.HTTPConnection(host, port, timeout=2)
    try:
        # A worker is reached without nginx: say what nginx would (TLS, the client's host).
        conn.request("GET", path, headers={"Host": host_header, "X-Forwarded-Proto": "https"})
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def ready(host: str, port: int, *, tls: bool, host_header: str) -> bool:
    return probe(host, port, HEALTH_PATH, tls=tls, host_header=host_header) == 200


def probe_host(env: dict[str, str]) -> str:
    """A Host header the application accepts: the first plain name of ALLOWED_HOSTS."""
    for name in env.get("ALLOWED_HOSTS", "").split(","):
        name = name.strip().lstrip(".")
        if name and name != "*":
            return name
    return "127.0.0.1"


def wait_until_ready(settings: Settings, env: dict[str, str], honcho: subprocess.Popen[bytes]) -> bool:
    """Every worker and the proxy answer the health check; False when honcho stopped first."""
    host_header = probe_host(env)
    upstreams = [*settings.web_ports, settings.ws_port]
    started, nagged = time.monotonic(), time.monotonic()
    while honcho.poll() is None:
        upstreams = [p for p in upstreams if not ready("127.0.0.1", p, tls=False, host_header=host_header)]
        if not upstreams and ready(settings.connect_host, settings.port, tls=True, host_header=host_header):
            say(f"ready on {settings.url} ({time.monotonic() - started:.1f} s)")
            return True
        if time.monotonic() - nagged > 30:
            nagged = time.monotonic()
            say(f"still waiting for {HEALTH_PATH} (workers not ready on ports {upstreams or 'none'}; proxy next)")
        time.sleep(0.2)
    return False


def cannot_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, a privileged port), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as refused:
            return f"{host}:{port} ({refused.strerror})"
    return None


def main() -> int:
    env = dict(os.environ)
    production_checks(env)
    settings = settings_from(env)
    try:
        return serve(settings, production_env(env, settings))
    finally:
        if settings.own_run_dir:
            shutil.rmtree(settings.run_dir, ignore_errors=True)


def honcho_command(settings: Settings) -> list[str]:
    """honcho with deploy/Procfile: ``PAYLANE_WEB_PROCESSES`` HTTP workers, and no task worker or
    scheduler when ``PAYLANE_SERVE_JOBS=0``."""
    concurrency = f"web={settings.web_processes}" + ("" if settings.jobs else ",worker=0,scheduler=0")
    return [
        # honcho's `start`, every process's output read by one thread (deploy/relay.py).
        sys.executable, "-m", "deploy.relay", "start",
        "--procfile", str(settings.procfile),
        "--app-root", str(BASE_DIR),
        # No env file: honcho would read the development .env (DEBUG=1) and let it win.
        "--env", os.devnull,
        "--port", str(settings.upstream_port),
        "--concurrency", concurrency,
    ]  # fmt: skip


def serve(settings: Settings, run_env: dict[str, str]) -> int:
    taken = [cannot_listen("127.0.0.1", p) for p in [*settings.web_ports, settings.ws_port]]
    taken += [cannot_listen(settings.host, p) for p in (settings.port, settings.http_port) if p]
    if any(taken):
        fail(f"cannot listen on {', '.join(t for t in taken if t)}: PORT, PAYLANE_HTTP_PORT, PAYLANE_UPSTREAM_PORT")
    install_packages()
    render(settings, run_env)
    prepare(settings, run_env)
    command = honcho_command(settings)
    say(f"starting {settings.web_processes} HTTP worker(s), the websocket server and nginx in {settings.run_dir}")
    honcho = subprocess.Popen(command, cwd=BASE_DIR, env=run_env)

    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        wait_until_ready(settings, run_env, honcho)
        status = honcho.wait()
        # honcho exits 130/143 after SIGINT/SIGTERM: a stop we were asked for is a clean exit
        # (systemd and container runtimes would otherwise record a failure).
        return 0 if stopping and status in (130, 143) else status
    finally:
        if honcho.poll() is None:
            honcho.terminate()
            honcho.wait()


def ready_now(env: dict[str, str]) -> bool:
    """``serve.py --ready``: whether the running stack answers the health check through nginx
    (the container's HEALTHCHECK; a monitor on the host)."""
    host = env.get("HOST", "").strip() or "127.0.0.1"
    port = int(env.get("PORT", "").strip() or 8000)
    return ready(connect_host(host), port, tls=True, host_header=probe_host(env))


if __name__ == "__main__":
    if sys.argv[1:] == ["--ready"]:
        sys.exit(0 if ready_now(dict(os.environ)) else 1)
    sys.exit(main())
