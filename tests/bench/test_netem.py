"""``--rtt``'s emulated network (``bench/netem.py``): the delay is in force, and nothing is left behind.

Builds the real thing (a network namespace, a veth pair, netem or the delay
line, a PostgreSQL server of its own) and checks what a benchmark relies on: a
``SELECT 1`` across it takes at least the round trip asked for, the machine's
loopback gets no delay, and leaving (normally, by an exception, by Ctrl-C or
SIGTERM to the process) removes the namespace, the veth pair, the server and
its folder. Skipped where ``ip netns`` is not permitted (not root, a
container without the capability).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench import netem

ROOT = Path(__file__).resolve().parents[2]
why_not = netem.available()
pytestmark = [pytest.mark.postgres, pytest.mark.skipif(why_not is not None, reason=f"no emulated network: {why_not}")]

RTT_MS = 20.0


def left_behind(pid: int, folder: Path | None = None) -> list[str]:
    """What of process ``pid``'s emulated network still exists."""
    namespace, host_if, _, _, _ = netem.names(pid)
    found = []
    if namespace in netem.leftovers():
        found.append(f"namespace {namespace}")
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    if f" {host_if}@" in links or f" {host_if}:" in links:
        found.append(f"veth {host_if}")
    if folder is not None and folder.exists():
        found.append(f"folder {folder}")
    return found


def running(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie left to an init that has not reaped it yet does not)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


def server_folder(remote: netem.Remote) -> Path:
    import psycopg

    with psycopg.connect(f"{remote.url}/postgres") as conn:
        row = conn.execute("SHOW data_directory").fetchone()
    assert row is not None
    return Path(row[0]).parent


def test_a_query_across_takes_at_least_the_round_trip_and_loopback_none() -> None:
    with netem.postgres_across(RTT_MS) as remote:
        fastest, _ = netem.round_trip_ms(f"{remote.url}/postgres", samples=10)
        assert fastest >= RTT_MS
        assert remote.delay in ("netem", "relay")
        shared = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/postgres"
        loopback, _ = netem.round_trip_ms(shared, samples=10)
        assert loopback < RTT_MS  # the machine's own loopback is left alone


def test_leaving_the_block_removes_namespace_veth_server_and_folder() -> None:
    with netem.postgres_across(1.0) as remote:
        folder = server_folder(remote)
        postmaster = int((folder / "data" / "postmaster.pid").read_text().split()[0])
        assert left_behind(os.getpid(), folder) == [
            f"namespace {netem.names(os.getpid())[0]}",
            f"veth {netem.names(os.getpid())[1]}",
            f"folder {folder}",
        ]
    assert left_behind(os.getpid(), folder) == []
    assert not running(postmaster)


def test_an_exception_inside_still_tears_everything_down() -> None:
    with pytest.raises(RuntimeError, match="benchmark failed"), netem.postgres_across(1.0) as remote:
        folder = server_folder(remote)
        raise RuntimeError("benchmark failed")
    assert left_behind(os.getpid(), folder) == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_a_signal_to_the_benchmark_tears_everything_down(signum: int) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.netem", "--rtt", "1"], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # the URL: everything is up
        assert line.startswith("postgres://"), line
        assert left_behind(child.pid) != []
        child.send_signal(signum)
        assert child.wait(60) == 0
    finally:
        child.kill()
    assert left_behind(child.pid) == []


def test_the_transfers_benchmark_runs_across_with_both_ceilings_and_the_old_path(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            *(sys.executable, "-m", "bench", "transfers", "--rtt", "1"),
            *("--database-url", "postgres://x@y/paylane_rtt_smoke"),  # only its name counts: a server of its own
            *("--wallets", "30", "--workers", "2", "--seconds", "0.3", "--scenarios", "hot", "--name", "smoke"),
            *("--redis-url", os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"),
        ],
        cwd=ROOT,
        env={**os.environ, "PAYLANE_BENCH_RESULTS": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "smoke.json").read_text())
    labels = [run["label"] for run in report["runs"]]
    assert labels == ["raw-sql/hot", "raw-1rt/hot", "django-steps/hot", "django/hot"]
    assert all(run["errors"] == 0 and run["ops"] > 0 for run in report["runs"])
    assert report["network"]["rtt_ms"] == 1.0 and report["network"]["select_1_min_p50_ms"][0] >= 1.0
