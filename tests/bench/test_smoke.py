"""The benchmark harness still works: tiny runs, a few seconds each. Figures are not asserted.

Each run gets a database of its own (named after this process, dropped at the
end) and leaves the Redis database of the test run as it found it
(``--keep-redis``), so concurrent test runs on one machine do not collide.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.postgres


@pytest.fixture
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    server = urlsplit(os.environ["DATABASE_URL"])
    name = f"paylane_bench_smoke_{os.getpid()}_{request.node.name[5:25]}"
    yield urlunsplit(server._replace(path=f"/{name}"))
    with psycopg.connect(urlunsplit(server._replace(path="/postgres")), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def bench(name: str, database_url: str, results: Path, *options: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, "-m", "bench", name, "--database-url", database_url, "--name", "smoke", *options],
        cwd=ROOT,
        env={**os.environ, "PAYLANE_BENCH_RESULTS": str(results)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    report: dict[str, Any] = json.loads((results / "smoke.json").read_text())
    return report


def redis_options() -> list[str]:
    return ["--redis-url", os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/9"]


def test_transfers_benchmark_runs_end_to_end_and_leaves_a_consistent_ledger(tmp_path: Path, database_url: str) -> None:
    report = bench(
        "transfers",
        database_url,
        tmp_path,
        *("--wallets", "30", "--workers", "2", "--seconds", "0.2"),
        *redis_options(),
    )
    labels = {(run["label"], run["workers"]) for run in report["runs"]}
    expected = {(f"{kind}/{s}", 2) for kind in ("raw-sql", "django") for s in ("spread", "hot")}
    assert labels == expected | {("django+push/spread", 2), ("django (again)/spread", 2)}
    assert [r["label"] for r in report["runs"] if r["scenario"] == "spread"][-2:] == [
        "django+push/spread",
        "django (again)/spread",
    ]
    assert all(run["errors"] == 0 and run["ops"] > 0 for run in report["runs"])
    # BEGIN, the one statement, COMMIT; statement by statement: BEGIN, lock, update, ledger, outbox, COMMIT.
    assert (report["round_trips_per_transfer"], report["round_trips_locked"]) == (3, 2)
    assert (report["steps_round_trips_per_transfer"], report["steps_round_trips_locked"]) == (6, 5)
    assert report["push_round_trips"] == 0  # the push reuses the parties the transfer loaded


def test_http_benchmark_runs_transfers_through_make_serves_proxy_and_the_service_beside_it(
    tmp_path: Path, database_url: str
) -> None:
    report = bench(
        "http",
        database_url,
        tmp_path,
        *("--wallets", "20", "--clients", "2", "--processes", "1", "--seconds", "0.3"),
        *("--servers", "production,daphne"),  # deploy/Procfile's, then one other in the web line
        *redis_options(),
    )
    assert report["production_server"] == "gunicorn"  # deploy/Procfile's web line
    kinds = [(run["server"], run["kind"]) for run in report["runs"]]
    assert kinds == [
        *(("gunicorn", kind) for kind in ("service", "api", "service", "api", "service")),
        *(("gunicorn", kind) for kind in ("dashboard GET", "page transfer GET+POST")),
        *(("daphne", kind) for kind in ("service", "api", "service", "api", "service")),
    ]
    assert all(run["errors"] == 0 and run["ops"] > 0 for run in report["runs"])
    assert {run.get("client") for run in report["runs"] if run["kind"] == "api"} == {"wrk"}  # bench/wrk.py
    # Each run says where the machine's CPU went per transfer (bench/cpu_parts.py).
    for run in report["runs"]:
        if run["kind"] in ("api", "service"):
            split = run["cpu_ms"]
            assert {"postgres", "redis", "web", "relay", "nginx", "total"} <= set(split)
            assert ("clients" if run["kind"] == "api" else "workers") in split
            assert split["total"] >= split["postgres"] > 0
    for ratio in report["ratios"]:
        assert ratio["cpu_ms_per_transfer"]["api"]["web"] > 0
        assert ratio["cpu_ms_per_transfer"]["service"]["workers"] > 0
    assert [ratio["server"] for ratio in report["ratios"]] == ["gunicorn", "daphne"]
    for ratio in report["ratios"]:
        api = [run for run in report["runs"] if run["kind"] == "api" and run["server"] == ratio["server"]]
        # Every API transfer went through nginx (its access log names the worker that answered).
        assert ratio["proxied_requests"] >= sum(run["ops"] for run in api)
        assert len(ratio["ratios"]) == 2 and ratio["ratio"] > 0  # --rounds 2: one ratio per API run


def test_http_profile_measures_the_api_the_service_and_postgresql_beside_them(
    tmp_path: Path, database_url: str
) -> None:
    report = bench(
        "http_profile",
        database_url,
        tmp_path,
        *("--wallets", "5", "--requests", "40", "--rounds", "1"),
        *redis_options(),
    )
    assert report["api_cpu_ms"] > 0 and report["service_cpu_ms"] > 0
    # PostgreSQL runs on this machine in the suite: its backends' CPU is read (in clock ticks, so
    # only the sum of 80 transfers' is sure to be above zero).
    assert report["api_postgres_cpu_ms"] + report["service_postgres_cpu_ms"] > 0


def test_latency_benchmark_delivers_every_event_to_both_parties(tmp_path: Path, database_url: str) -> None:
    report = bench(
        "latency",
        database_url,
        tmp_path,
        *("--sockets", "20", "--max-workers", "2", "--max-seconds", "0.5", "--seconds", "1", "--settle", "0.3"),
        *("--gap", "0.3", "--burst", "10", "--keep-redis"),
        *redis_options(),
    )
    assert report["sockets_open"] == 20 and report["errors"] == 0
    assert report["ledger_transfers"] > 10 and report["ledger_rows_without_commit_stamp"] == 0
    assert report["missed_events"] == 0 and report["duplicate_events"] == 0
    phases = {phase["phase"]: phase for phase in report["phases"]}
    assert set(phases) == {"max", "steady", "burst"}
    assert phases["burst"]["transfers"] == 10
    assert all(phase["p99_ms"] is not None for phase in phases.values())


def test_sockets_benchmark_storms_then_holds_idle_sockets(tmp_path: Path, database_url: str) -> None:
    report = bench(
        "sockets",
        database_url,
        tmp_path,
        *("--storm", "20", "--storm-rate", "100", "--sockets", "40", "--clients", "2", "--idle", "0.3"),
        "--keep-redis",
        *redis_options(),
    )
    assert report["storm"]["accepted"] == 20 and report["storm"]["p99_ms"] is not None
    hold = report["hold"]
    assert hold["sockets_opened"] == 40 and hold["closed_while_idle"] == 0
    assert hold["ping_answered"] == hold["ping_sampled"] > 0
    assert hold["rss_held_kib"] > 0


def test_history_plans_benchmark_explains_every_filter_on_a_filled_ledger(tmp_path: Path, database_url: str) -> None:
    report = bench("history_plans", database_url, tmp_path, *("--rows", "4000", "--users", "100", "--repeat", "1"))
    assert report["rows"] == 4000 and report["heavy_user_rows"] > report["ordinary_user_rows"] > 0
    filters = {row["filter"] for row in report["results"]}
    assert {"none", "counterparty", "direction=in", "status=FAILED", "q=coffee (common note)"} <= filters
    assert {(row["filter"], row["user"]) for row in report["results"]} == {
        (f, who) for f in filters for who in ("heavy", "ordinary")
    }
    # Every statement ran and read the ledger through an index (its plan names one).
    assert all(row["indexes"] or row.get("note") == "no query" for row in report["results"])


def test_the_http_ratio_pairs_each_api_run_with_the_service_runs_around_it() -> None:
    from bench.http import alternation_ratio

    runs = [{"per_second": v} for v in (100.0, 60.0, 140.0, 30.0, 60.0)]  # service, API, service, API, service
    figure = alternation_ratio(runs)
    assert figure["ratios"] == [0.5, 0.3]  # 60 / mean(100, 140), 30 / mean(140, 60)
    assert figure["ratio"] == 0.4


def test_the_push_ratio_is_against_the_runs_without_it_before_and_after() -> None:
    from bench.transfers import push_ratios_of

    runs = [
        {"label": "raw-sql/spread", "workers": 4, "per_second": 500.0},
        {"label": "django/spread", "workers": 4, "per_second": 100.0},
        {"label": "django+push/spread", "workers": 4, "per_second": 90.0},
        {"label": "django (again)/spread", "workers": 4, "per_second": 125.0},
    ]
    assert push_ratios_of(runs) == [{"scenario": "spread", "workers": 4, "push_ratio": 0.8}]  # 90 / mean(100, 125)


def _frozen_or_fail(index: int) -> Any:
    import gc

    frozen = gc.get_freeze_count()

    def operation() -> None:
        if not frozen:
            raise AssertionError("the parent's heap is still in the collector's generations")

    return operation


def test_a_measuring_worker_puts_its_parents_heap_out_of_the_collectors_reach() -> None:
    """A forked worker's full collections would walk everything the parent set up and stall what it times."""
    from bench import harness

    run = harness.measure("frozen", _frozen_or_fail, workers=2, seconds=0.05)
    assert run.ops > 0 and run.errors == 0
