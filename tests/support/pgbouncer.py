"""A private PgBouncer in transaction mode, on a free loopback port, in front of the test's PostgreSQL.

``through_pgbouncer(bouncer)`` points this process's ``default`` alias at it, as
``PAYLANE_DB_TRANSACTION_POOLING=1`` configures a web process (no ``options``
startup parameter, client-side cursors, the timeouts set in each transaction),
and points it back afterwards. The process is stopped by its own pid.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection

from tests.support.live import _wait_until, free_port

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


class PgBouncer:
    """``pool_mode = transaction`` with only ``pool_size`` server connections per database, so clients share them."""

    def __init__(self, *, server_host: str, server_port: int, user: str, pool_size: int = 4) -> None:
        assert os.path.exists(PGBOUNCER), "pgbouncer is not installed (deploy/install-test-packages)"
        self.server_host, self.server_port, self.user, self.pool_size = server_host, server_port, user, pool_size
        self.port = free_port()
        # Its own folder, readable by the user it runs as (it refuses to run as root).
        self.folder = tempfile.mkdtemp(prefix="paylane-pgbouncer-")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        config = os.path.join(self.folder, "pgbouncer.ini")
        users = os.path.join(self.folder, "userlist.txt")
        with open(users, "w") as out:
            out.write(f'"{self.user}" ""\n')
        with open(config, "w") as out:
            out.write(
                "[databases]\n"
                f"* = host={self.server_host} port={self.server_port}\n"
                "[pgbouncer]\n"
                f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
                f"auth_type = trust\nauth_file = {users}\nadmin_users = {self.user}\n"
                "pool_mode = transaction\n"
                f"default_pool_size = {self.pool_size}\nmax_client_conn = 500\n"
                # What Debian's 1.18 does with the options a client sends: refuses unknown ones.
                "ignore_startup_parameters = extra_float_digits\n"
                f"logfile = {os.path.join(self.folder, 'pgbouncer.log')}\n"
            )
        command = [PGBOUNCER]
        if os.geteuid() == 0:
            for path in (self.folder, config, users):
                shutil.chown(path, "postgres")
            command += ["-u", "postgres"]
        self.proc = subprocess.Popen([*command, config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_until(
            lambda: self.proc is not None and (self.proc.poll() is not None or self._answers()), 10, "pgbouncer"
        )
        assert self.proc.poll() is None, f"pgbouncer exited:\n{self.log()}"

    def _answers(self) -> bool:
        try:
            self.show("VERSION")
        except psycopg.Error:
            return False
        return True

    def show(self, what: str) -> list[dict[str, Any]]:
        """``SHOW <what>`` on PgBouncer's admin console, as rows of column -> value."""
        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=self.user, dbname="pgbouncer", autocommit=True, connect_timeout=2
        ) as admin:
            cursor = admin.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description or []]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def transactions(self, database: str) -> int:
        """Transactions PgBouncer has passed to ``database`` so far."""
        return sum(int(row["total_xact_count"]) for row in self.show("STATS") if row["database"] == database)

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@127.0.0.1:{self.port}/{database}"

    def log(self) -> str:
        try:
            with open(os.path.join(self.folder, "pgbouncer.log")) as log:
                return log.read()[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        shutil.rmtree(self.folder, ignore_errors=True)


def bouncer_for_tests() -> PgBouncer:
    """A PgBouncer in front of the server the test database lives on."""
    s = connection.settings_dict
    return PgBouncer(server_host=s.get("HOST") or "127.0.0.1", server_port=int(s.get("PORT") or 5432), user=s["USER"])


@contextmanager
def through_pgbouncer(bouncer: PgBouncer, settings: Any) -> Iterator[None]:
    """This process's ``default`` alias through ``bouncer``, configured as ``PAYLANE_DB_TRANSACTION_POOLING=1``
    configures a web process (``settings``: pytest-django's fixture)."""
    settings_dict = connection.settings_dict  # shared by every thread's connection object
    saved = {**settings_dict, "OPTIONS": {**settings_dict["OPTIONS"]}}
    connection.close()
    connection.close_pool()
    settings_dict.update(HOST="127.0.0.1", PORT=bouncer.port, DISABLE_SERVER_SIDE_CURSORS=True)
    settings_dict["OPTIONS"].pop("options", None)  # PgBouncer refuses the startup parameter
    settings.PAYLANE_DB_TRANSACTION_POOLING = True
    settings.PAYLANE_DB_TRANSACTION_TIMEOUTS = dict(settings.PAYLANE_DB_TIMEOUTS)
    try:
        yield
    finally:
        connection.close()
        connection.close_pool()
        settings_dict.clear()
        settings_dict.update(saved)
