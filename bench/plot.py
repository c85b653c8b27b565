"""`plot`: PNG plots for docs/performance.md from the result files (needs requirements-bench.txt).

``docs/bench-transfers.png``: transfers/s against workers, Django (with and
without the push) against the raw-SQL ceiling, per scenario.
``docs/bench-http.png``: transfers/s through `make serve`'s stack beside the service's, per HTTP server.
``docs/bench-latency.png``: commit -> both parties' events, p50/p99/max per phase.
``docs/bench-storm.png``: connect-storm handshake latency (p50/p99) against the offered rate.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from bench import harness

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _load(name: str) -> dict[str, Any] | None:
    path = harness.RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench plot", description=__doc__)
    parser.add_argument("--out", type=Path, default=DOCS)
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written: list[str] = []
    transfers = _load("transfers")
    if transfers:
        scenarios = sorted({r["scenario"] for r in transfers["runs"]}, reverse=True)
        fig, axes = plt.subplots(1, len(scenarios), figsize=(5 * len(scenarios), 4), squeeze=False)
        for ax, scenario in zip(axes[0], scenarios, strict=True):
            curves: dict[str, list[tuple[int, float]]] = defaultdict(list)
            for r in transfers["runs"]:
                if r["scenario"] == scenario:
                    curves[r["label"].split("/")[0]].append((r["workers"], r["per_second"]))
            for label, points in curves.items():
                xs, ys = zip(*sorted(points), strict=True)
                ax.plot(xs, ys, marker="o", label=label)
            ax.set(title=f"transfers, {scenario}", xlabel="workers", ylabel="transfers/s", ylim=(0, None))
            ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "bench-transfers.png", dpi=90)
        written.append("bench-transfers.png")
    http = _load("http")
    if http and "ratios" in http:
        fig, ax = plt.subplots(figsize=(6, 4))
        servers = [r["server"] for r in http["ratios"]]
        places = list(range(len(servers)))
        api = [r["api_per_second"] for r in http["ratios"]]
        service = [r["service_per_second"] for r in http["ratios"]]
        ax.bar([x - 0.2 for x in places], service, width=0.4, label="service (payment_send)")
        ax.bar([x + 0.2 for x in places], api, width=0.4, label="API through nginx")
        for x, r in zip(places, http["ratios"], strict=True):
            ax.annotate(f"{r['ratio']}", (x + 0.2, r["api_per_second"]), ha="center", va="bottom")
        ax.set_xticks(places, servers)
        ax.set(title=f"transfers/s, {http['ratios'][0]['processes']} DB connections", ylabel="transfers/s")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "bench-http.png", dpi=90)
        written.append("bench-http.png")
    latency = _load("latency")
    if latency:
        fig, ax = plt.subplots(figsize=(6, 4))
        phases = [p for p in latency["phases"] if p["p50_ms"] is not None]
        names = [p["phase"] for p in phases]
        width = 0.27
        for offset, key in enumerate(["p50_ms", "p99_ms", "max_ms"]):
            positions = [i + (offset - 1) * width for i in range(len(phases))]
            ax.bar(positions, [p[key] for p in phases], width, label=key.removesuffix("_ms"))
        ax.set_xticks(range(len(names)), names)
        ax.set_yscale("log")
        ax.axhline(10, color="grey", linestyle="--", linewidth=1, label="target p99 10 ms")
        ax.set(title=f"commit -> both parties, {latency['sockets_open']} sockets", ylabel="ms (log)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "bench-latency.png", dpi=90)
        written.append("bench-latency.png")
    sockets = _load("sockets")
    storms = [s for s in (sockets or {}).get("storms", []) if s["p99_ms"] is not None]
    if len(storms) > 1:
        fig, ax = plt.subplots(figsize=(5, 4))
        ordered = sorted(storms, key=lambda s: s["offered_rate"])
        for key in ("p50_ms", "p99_ms"):
            ax.plot([s["offered_rate"] for s in ordered], [s[key] for s in ordered], marker="o", label=key[:3])
        ax.axhline(50, color="grey", linestyle="--", linewidth=1, label="target p99 50 ms")
        ax.set_yscale("log")
        daphnes = ordered[0].get("daphnes", 1)
        ax.set(title=f"connect storm, {daphnes} daphne(s)", xlabel="handshakes/s offered", ylabel="ms (log)")
        ax.legend()
        fig.tight_layout()
        fig.savefig(args.out / "bench-storm.png", dpi=90)
        written.append("bench-storm.png")
    print("wrote", ", ".join(written) or "nothing (no result files)")
    return {"written": written}
