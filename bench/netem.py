"""PostgreSQL across an emulated network: the benchmark's own server in a network namespace.

``postgres_across(rtt_ms)`` (a context manager; as root) builds, for the
``with`` block only:

- a network namespace ``paylane-rtt-<pid>`` joined to the host by a veth pair
  (host end ``plr<pid>h`` 10.213.x.1/30, namespace end ``plr<pid>n`` 10.213.x.2/30);
- ``tc qdisc ... netem delay`` of **half the round trip on each end** (each
  packet leaving the host waits rtt/2, each packet leaving the namespace
  rtt/2): a query's answer comes back one ``rtt_ms`` later than on loopback.
  Where the kernel has no netem qdisc (``tc``: "Specified qdisc kind is
  unknown", as on this project's VMs, whose kernel has no traffic control at
  all), the same half-each-way delay is added by ``bench.delayline``, a relay
  running inside the namespace on the veth address in front of the server's
  Unix socket; ``Remote.delay`` says which ("netem" or "relay"). The
  machine's loopback and every other interface are left alone: the shared
  PostgreSQL and Redis see no delay;
- a PostgreSQL 15 instance of its own (``initdb`` into a temporary folder, run
  as the ``postgres`` OS user, which PostgreSQL requires, inside the namespace,
  listening on the namespace's veth address (with netem; with the relay, on
  its Unix socket in the temporary folder only), ``trust`` for the host's
  address), with the server's defaults (fsync and synchronous_commit on, as
  the shared server runs);

and yields a ``Remote`` whose ``url`` has no database name
(``postgres://postgres@10.213.x.2:5432``). Leaving the block, however it is
left (an exception, Ctrl-C, SIGTERM), stops the relay and the server, kills
whatever still runs in the namespace, deletes the namespace (which deletes the
veth pair) and the temporary folder. ``python -m bench.netem --cleanup``
removes what a ``kill -9``'d benchmark left behind (every ``paylane-rtt-*``
namespace whose process is gone); ``python -m bench.netem`` says whether this
host can build it.

Needs iproute2 and the PostgreSQL 15 server binaries: ``bench/install-system-packages``
installs them when missing (called from here).
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PG_USER = "postgres"
PORT = 5432  # inside the namespace: a network stack of its own, nothing else listens there
PREFIX = "paylane-rtt-"
ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "bench" / "install-system-packages"


class NetemUnavailable(RuntimeError):
    """This host cannot build the emulated network (not root, no netns or netem in the kernel)."""


def _run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        raise NetemUnavailable(f"{' '.join(command)}: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _in_namespace(namespace: str, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return _run("ip", "netns", "exec", namespace, *command, check=check)


def tools_ensure() -> None:
    """Install iproute2 and the PostgreSQL 15 server when missing (``bench/install-system-packages``)."""
    if shutil.which("ip") and shutil.which("tc") and (PG_BIN / "initdb").exists():
        return
    subprocess.run([str(INSTALL)], check=True)


def names(pid: int) -> tuple[str, str, str, str, str]:
    """(namespace, host veth, namespace veth, host address, namespace address) of process ``pid``.

    Interface names stay within the kernel's 15 characters; the /30 subnet is
    10.213.<pid mod 250>.0, so two benchmarks on one host rarely meet (and a
    meeting fails loudly on ``ip addr add``, never silently).
    """
    octet = pid % 250
    return f"{PREFIX}{pid}", f"plr{pid}h"[:15], f"plr{pid}n"[:15], f"10.213.{octet}.1", f"10.213.{octet}.2"


def _network_up(rtt_ms: float, namespace: str, host_if: str, ns_if: str, host_ip: str, ns_ip: str) -> str:
    """The namespace and its veth pair, with the delay; which delay: "netem", or "relay" where the
    kernel has no netem qdisc (then ``bench.delayline`` delays inside the namespace)."""
    _run("ip", "netns", "add", namespace)
    _run("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if)
    _run("ip", "link", "set", ns_if, "netns", namespace)
    _run("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
    _run("ip", "link", "set", host_if, "up")
    _in_namespace(namespace, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if)
    _in_namespace(namespace, "ip", "link", "set", ns_if, "up")
    _in_namespace(namespace, "ip", "link", "set", "lo", "up")
    # Half the round trip on each end: host -> namespace, and namespace -> host.
    half = f"{_half_us(rtt_ms)}us"
    netem = _run("tc", "qdisc", "add", "dev", host_if, "root", "netem", "delay", half, check=False)
    if netem.returncode != 0 and "unknown" in netem.stderr:
        return "relay"  # this kernel has no qdiscs: the delay line takes over (bench/delayline.py)
    if netem.returncode != 0:
        raise NetemUnavailable(f"tc qdisc add ... netem: {netem.stderr.strip()}")
    _in_namespace(namespace, "tc", "qdisc", "add", "dev", ns_if, "root", "netem", "delay", half)
    return "netem"


def _half_us(rtt_ms: float) -> int:
    return max(1, round(rtt_ms * 1000 / 2))


def _network_down(namespace: str, host_if: str) -> None:
    pids = _run("ip", "netns", "pids", namespace, check=False).stdout.split()
    for pid in pids:
        with suppress(ProcessLookupError, ValueError):
            os.kill(int(pid), signal.SIGKILL)
    _run("ip", "netns", "del", namespace, check=False)  # takes its veth end, and so the pair, with it
    if host_if:
        _run("ip", "link", "del", host_if, check=False)  # in case the namespace never got its end


def _as_postgres(*command: str) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *command]


def _server_start(namespace: str, folder: Path, host_ip: str, listen: str) -> None:
    """initdb and start the server in the namespace, listening on ``listen`` ('' : its Unix socket only)."""
    data = folder / "data"
    shutil.chown(folder, PG_USER, PG_USER)
    _run(*_as_postgres(str(PG_BIN / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "--no-sync"))
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write(f"host all all {host_ip}/32 trust\n")
    options = (
        f"-c listen_addresses='{listen}' -c port={PORT} -c unix_socket_directories={folder} -c max_connections=200"
    )
    _in_namespace(
        namespace,
        *_as_postgres(
            str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-o", options, "-w", "start"
        ),
    )


def _server_stop(namespace: str, folder: Path) -> None:
    data = folder / "data"
    if (data / "postmaster.pid").exists():
        _in_namespace(
            namespace,
            *_as_postgres(str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "20", "stop"),
            check=False,
        )


def _wait_ready(url: str, timeout: float = 30.0) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(f"{url}/postgres", connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def round_trip_ms(url: str, samples: int = 50) -> tuple[float, float]:
    """(min, median) milliseconds of ``SELECT 1`` on one connection to ``url``: the delay in force."""
    import psycopg

    times = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        for _ in range(samples):
            began = time.perf_counter()
            conn.execute("SELECT 1").fetchone()
            times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return round(times[0], 3), round(times[len(times) // 2], 3)


def _raise_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@dataclass(frozen=True)
class Remote:
    """The server across the emulated network: its URL (no database name), the round trip, how it is delayed."""

    url: str
    rtt_ms: float
    delay: str  # "netem" (the kernel's qdisc on both veth ends) or "relay" (bench/delayline.py)


@contextmanager
def postgres_across(rtt_ms: float) -> Iterator[Remote]:
    """A PostgreSQL server of its own, ``rtt_ms`` of round trip away (see the module docstring)."""
    if os.geteuid() != 0:
        raise NetemUnavailable("--rtt builds a network namespace: run it as root")
    if rtt_ms < 0:
        raise ValueError("the round trip cannot be negative")
    tools_ensure()
    namespace, host_if, ns_if, host_ip, ns_ip = names(os.getpid())
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    previous = signal.signal(signal.SIGTERM, _raise_on_sigterm)  # SIGTERM tears down as Ctrl-C does
    relay: subprocess.Popen[bytes] | None = None
    try:
        delay = _network_up(rtt_ms, namespace, host_if, ns_if, host_ip, ns_ip)
        _server_start(namespace, folder, host_ip, ns_ip if delay == "netem" else "")
        if delay == "relay":
            relay = subprocess.Popen(
                [
                    *("ip", "netns", "exec", namespace, sys.executable, "-m", "bench.delayline"),
                    *("--listen", f"{ns_ip}:{PORT}", "--upstream", str(folder / f".s.PGSQL.{PORT}")),
                    *("--delay-us", str(_half_us(rtt_ms))),
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
            )
        url = f"postgres://{PG_USER}@{ns_ip}:{PORT}"
        _wait_ready(url)
        yield Remote(url=url, rtt_ms=rtt_ms, delay=delay)
    finally:
        try:
            if relay is not None:
                relay.terminate()
                with suppress(subprocess.TimeoutExpired):
                    relay.wait(5)
            _server_stop(namespace, folder)
            _network_down(namespace, host_if)
            shutil.rmtree(folder, ignore_errors=True)
        finally:
            signal.signal(signal.SIGTERM, previous)


RTT_HELP = (
    "PostgreSQL across an emulated network, MS of round trip away (bench/netem.py; as root): "
    "a server of the benchmark's own, with the database named as in --database-url"
)


@contextmanager
def across(rtt_ms: float | None, database_url: str) -> Iterator[str]:
    """``database_url`` as it is without ``rtt_ms``; with it, the same database name on a server of
    its own ``rtt_ms`` away (``postgres_across``), for the block. For a benchmark's ``--rtt``."""
    if rtt_ms is None:
        yield database_url
        return
    name = urlsplit(database_url).path.lstrip("/")
    with postgres_across(rtt_ms) as remote:
        fastest, median = round_trip_ms(f"{remote.url}/postgres")
        print(f"PostgreSQL at {rtt_ms} ms RTT ({remote.delay}): SELECT 1 takes {fastest} ms at best, {median} median")
        yield f"{remote.url}/{name}"


def leftovers() -> list[str]:
    """The ``paylane-rtt-*`` namespaces on this host."""
    listed = _run("ip", "netns", "list", check=False).stdout.split("\n")
    return [line.split()[0] for line in listed if line.startswith(PREFIX)]


def cleanup() -> list[str]:
    """Remove the namespaces (and their servers, veths, folders) of benchmarks that are gone."""
    removed = []
    for namespace in leftovers():
        owner = namespace.removeprefix(PREFIX).removeprefix("probe-")
        if not owner.isdigit():
            continue
        pid = int(owner)
        try:
            os.kill(pid, 0)
            continue  # still running: its own ``finally`` will clean up
        except ProcessLookupError:
            pass
        _network_down(namespace, names(pid)[1] if namespace == names(pid)[0] else "")
        removed.append(namespace)
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        if not _server_alive(folder):
            shutil.rmtree(folder, ignore_errors=True)
    return removed


def _server_alive(folder: Path) -> bool:
    try:
        pid = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, 0)
    except (OSError, ValueError, IndexError):
        return False
    return True


def available() -> str | None:
    """None if this host can build the emulated network; otherwise why not."""
    if os.geteuid() != 0:
        return "not root"
    if not (shutil.which("ip") and shutil.which("tc")):
        return "iproute2 is not installed (bench/install-system-packages)"
    if not (PG_BIN / "initdb").exists():
        return f"no PostgreSQL 15 server binaries in {PG_BIN}"
    probe = f"{PREFIX}probe-{os.getpid()}"
    result = _run("ip", "netns", "add", probe, check=False)
    if result.returncode != 0:
        return f"ip netns is not permitted here: {result.stderr.strip()}"
    try:
        link = _in_namespace(probe, "ip", "link", "set", "lo", "up", check=False)
        if link.returncode != 0:
            return f"ip netns exec is not permitted here: {link.stderr.strip()}"
    finally:
        _run("ip", "netns", "del", probe, check=False)
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.netem", description=__doc__)
    parser.add_argument("--cleanup", action="store_true", help="remove what killed benchmarks left behind")
    parser.add_argument("--rtt", type=float, help="build the network, print the server's URL, wait for Ctrl-C")
    args = parser.parse_args(argv)
    if args.cleanup:
        print("removed:", " ".join(cleanup()) or "nothing")
    elif args.rtt is not None:
        with postgres_across(args.rtt) as remote:
            print(remote.url, remote.delay, flush=True)
            with suppress(KeyboardInterrupt):
                signal.pause()
    else:
        print(available() or "available")


if __name__ == "__main__":
    main()
