"""The benchmark harness still works: a tiny run, a few seconds. Figures are not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


def test_transfers_benchmark_runs_end_to_end_and_leaves_a_consistent_ledger(tmp_path: Path) -> None:
    server = urlsplit(os.environ["DATABASE_URL"])
    database_url = urlunsplit(server._replace(path="/paylane_bench_smoke"))
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench",
            "transfers",
            "--database-url",
            database_url,
            "--wallets",
            "30",
            "--workers",
            "1,2",
            "--seconds",
            "0.3",
            "--name",
            "smoke",
        ],
        cwd=ROOT,
        env={**os.environ, "PAYLANE_BENCH_RESULTS": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads((tmp_path / "smoke.json").read_text())
    labels = {(run["label"], run["workers"]) for run in report["runs"]}
    assert labels == {(f"{kind}/{s}", w) for kind in ("raw-sql", "django") for s in ("spread", "hot") for w in (1, 2)}
    assert all(run["errors"] == 0 and run["ops"] > 0 for run in report["runs"])
    assert report["round_trips_per_transfer"] >= 4
