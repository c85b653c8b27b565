"""`transfers_rtt`: ``bench transfers --rtt 0.5`` as ``make bench`` runs it (docs/performance.md,
"Hot wallets across a network").

PostgreSQL 0.5 ms of round trip away (``bench/netem.py``), hot and spread
wallets, 8 and 16 workers, each path of ``bench.transfers`` (the raw
multi-statement ceiling, the single-round-trip ceiling, the transfer
statement by statement as before the one-statement function, the service
today) for 3 s each: about two minutes. Result: ``bench/results/transfers-rtt.json``.
Options after the name are ``bench transfers``'s and override these. Where this
host cannot build the emulated network (not root, ``ip netns`` refused), it says
why and stops without failing ``make bench``; ``bench transfers --rtt`` fails instead.
"""

from __future__ import annotations

from typing import Any

from bench import netem, transfers

DEFAULTS = [
    *("--rtt", "0.5", "--scenarios", "hot,spread", "--workers", "8,16", "--seconds", "3"),
    *("--wallets", "2000", "--push-scenarios", "", "--name", "transfers-rtt"),
]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    why_not = netem.available()
    if why_not is not None:
        print(f"transfers_rtt skipped: no emulated network here ({why_not})")
        return {"skipped": why_not}
    return transfers.main([*DEFAULTS, *(argv or [])])
