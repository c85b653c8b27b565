"""A private PostgreSQL primary and its synchronous streaming standby, in a temporary folder, on free ports.

The primary runs ``synchronous_standby_names = '*'`` and ``synchronous_commit =
remote_apply``, as the cluster's Patroni configures it (docs/scaling.md): a
COMMIT returns once the standby has applied it. Built with the PostgreSQL
binaries of the machine (initdb, pg_basebackup, pg_ctl) as the ``postgres``
user when run as root; never the machine's shared server. ``stop()`` stops both
by their data folders' pid files and removes the folder.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from tests.support.live import free_port


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    assert found or shutil.which(name), f"{name} is not installed (Debian's postgresql)"
    return found[-1] if found else str(shutil.which(name))


class PrimaryWithStandby:
    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="paylane-standby-"))
        self.primary_port, self.standby_port = free_port(), free_port()
        self.primary, self.standby = self.folder / "primary", self.folder / "standby"
        self.as_postgres: dict[str, Any] = {"user": "postgres"} if os.geteuid() == 0 else {}
        if self.as_postgres:
            shutil.chown(self.folder, "postgres")

    def _run(self, *command: str) -> None:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60, **self.as_postgres)
        assert done.returncode == 0, f"{command[0]}: {done.stdout}{done.stderr}"

    def _start(self, data: Path, port: int) -> None:
        options = f"-p {port} -k {self.folder}"
        self._run(_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(data / "server.log"), "-w", "start")

    def start(self) -> None:
        self._run(_bin("initdb"), "-D", str(self.primary), "-U", "postgres", "--auth=trust", "--no-sync")
        with open(self.primary / "postgresql.conf", "a") as conf:
            conf.write(
                "listen_addresses = '127.0.0.1'\n"
                "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
                "synchronous_standby_names = '*'\nsynchronous_commit = remote_apply\n"
                # A throwaway cluster: no durability of its own needed.
                "fsync = off\nfull_page_writes = off\nshared_buffers = 32MB\nmax_connections = 60\n"
            )
        self._start(self.primary, self.primary_port)
        self._run(
            _bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres",
            "-D", str(self.standby), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        self._start(self.standby, self.standby_port)
        self._run(_bin("createdb"), "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres", "paylane")

    def copy_schema(self, *, host: str, port: int, user: str, database: str) -> None:
        """The tables, triggers and recorded migrations of ``database`` (a migrated one) into the primary's
        ``paylane``: ``migrate`` then has nothing left to do, in a fraction of the time."""
        dump = [_bin("pg_dump"), "-h", host, "-p", str(port), "-U", user, "--no-owner", "--no-privileges", database]
        schema = subprocess.run([*dump, "--schema-only"], capture_output=True, timeout=60, check=True).stdout
        recorded = subprocess.run([*dump, "--data-only", "-t", "django_migrations"], capture_output=True, timeout=60)
        restore = [_bin("psql"), "-q", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres", "paylane"]
        subprocess.run(restore, input=schema + recorded.stdout, capture_output=True, timeout=60, check=True)

    def url(self, port: int) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/paylane"

    def stop(self) -> None:
        for data in (self.standby, self.primary):
            if (data / "postmaster.pid").exists():
                subprocess.run(
                    [_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                    capture_output=True,
                    timeout=30,
                    **self.as_postgres,
                )
        shutil.rmtree(self.folder, ignore_errors=True)
