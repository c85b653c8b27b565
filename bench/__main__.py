"""`python -m bench <name> [options]`: run one benchmark (`--help` after the name for its options)."""

from __future__ import annotations

import importlib
import sys

from bench import harness

BENCHMARKS = [
    "transfers",
    "transfers_rtt",
    "http",
    "http_profile",
    "latency",
    "sockets",
    "handshake",
    "history_plans",
    "cluster",
    "sentinel_cache",
    "plot",
]


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in BENCHMARKS:
        print(f"usage: python -m bench {{{','.join(BENCHMARKS)}}} [options]", file=sys.stderr)
        sys.exit(2)
    module = importlib.import_module(f"bench.{sys.argv[1]}")
    module.main(sys.argv[2:])
    steal = harness.steal_pct(harness.STARTED_CPU_TIMES, harness.read_cpu_times())
    if steal is not None and sys.argv[1] != "plot":
        # Every figure above is slower for it: the results' "machine" records it too.
        print(f"machine: {steal} % of the CPU time stolen by the hypervisor during this benchmark (/proc/stat)")


if __name__ == "__main__":
    main()
