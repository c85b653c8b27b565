"""Read project/settings.py under several environments, in one process; print what the cluster's settings became.

Usage: python -m tests.project.settings_probe '{"name": {"VARIABLE": "value", ...}, ...}'
Each environment is the caller's, without the variables the cluster settings read, plus the given
ones. Prints one JSON object: per name, either ``{"error": message}`` (the settings refused to load)
or the channel layer's host, the cache, the databases, the per-transaction timeouts and the routers.
"""

from __future__ import annotations

import json
import os
import runpy
import sys
from pathlib import Path
from typing import Any

SETTINGS = Path(__file__).resolve().parents[2] / "project" / "settings.py"
CLEARED = (
    "DATABASE_URL",
    "DATABASE_REPLICA_URL",
    "REDIS_URL",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "REDIS_SENTINEL_DB",
    "PAYLANE_DB_TRANSACTION_POOLING",
    "PAYLANE_DB_LOCK_TIMEOUT",
    "PAYLANE_DB_STATEMENT_TIMEOUT",
    "PAYLANE_PROCESS",
)


def read(env: dict[str, str]) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if k not in CLEARED}
    os.environ.clear()
    os.environ.update({**base, "DEBUG": "1", "SECRET_KEY": "probe", **env})
    try:
        s = runpy.run_path(str(SETTINGS))
    except Exception as exc:  # ImproperlyConfigured, as the process would die with
        return {"error": str(exc)}
    layer = s["CHANNEL_LAYERS"]["default"].get("CONFIG", {}).get("hosts", [None])[0]
    return {
        "layer": layer,
        "cache": s["CACHES"]["default"],
        "databases": s["DATABASES"],
        "per_transaction": s["PAYLANE_DB_TRANSACTION_TIMEOUTS"],
        "routers": s["DATABASE_ROUTERS"],
    }


def main() -> None:
    configs: dict[str, dict[str, str]] = json.loads(sys.argv[1])
    print(json.dumps({name: read(env) for name, env in configs.items()}, default=str))


if __name__ == "__main__":
    main()
