"""bench/harness.py: what every benchmark's results record about the machine they ran on."""

from __future__ import annotations

import pytest

from bench import harness

STAT = "cpu  {user} 20 {system} {idle} 5 0 3 {steal} 0 0\ncpu0 1 2 3 4 5 6 7 8 0 0\nintr 1 2 3\n"


def stat(user: int, system: int, idle: int, steal: int) -> dict[str, int]:
    return harness.cpu_times(STAT.format(user=user, system=system, idle=idle, steal=steal))


def test_cpu_times_reads_each_kind_of_the_machine_line() -> None:
    times = stat(100, 50, 1000, 7)
    assert times == {
        "user": 100, "nice": 20, "system": 50, "idle": 1000, "iowait": 5, "irq": 0, "softirq": 3, "steal": 7,
    }  # fmt: skip


def test_steal_is_its_share_of_all_the_cpu_time_between_two_readings() -> None:
    before = stat(100, 50, 1000, 7)
    # 600 ticks later: 300 user, 60 system, 40 idle, 200 stolen.
    after = stat(400, 110, 1040, 207)
    assert harness.steal_pct(before, after) == pytest.approx(33.3)
    assert harness.steal_pct(before, before) is None
    assert harness.steal_pct(None, after) is None


def test_not_a_stat_file_is_refused() -> None:
    with pytest.raises(ValueError):
        harness.cpu_times("intr 1 2 3\n")


def test_the_results_record_the_machine_and_its_steal() -> None:
    machine = harness.machine()
    assert machine["cpus"] >= 1 and machine["cpu_model"]
    assert machine["cpu_steal_pct"] is None or 0 <= machine["cpu_steal_pct"] <= 100
