"""`python -m bench <name> [options]`: run one benchmark (`--help` after the name for its options)."""

from __future__ import annotations

import importlib
import sys

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


if __name__ == "__main__":
    main()
