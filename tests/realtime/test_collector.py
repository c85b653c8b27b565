"""The websocket server's garbage collector runs its young collections rarely (realtime/collector.py)."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from realtime.collector import MIDDLE, OLDEST, YOUNG, collector_tune

BASE_DIR = Path(__file__).resolve().parents[2]


def test_the_asgi_entry_point_sets_the_servers_thresholds() -> None:
    # The entry point daphne loads, in a process of its own (it also freezes what it loaded).
    shown = subprocess.run(
        [sys.executable, "-c", "import gc, project.asgi; print(gc.get_threshold())"],
        cwd=BASE_DIR,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert shown.stdout.strip().splitlines()[-1] == str((YOUNG, MIDDLE, OLDEST))


def test_young_collections_are_rarer_and_the_oldest_keeps_cpythons_rule() -> None:
    before = gc.get_threshold()
    try:
        young, middle, oldest = collector_tune()
        assert young >= 20 * 2_000 and middle > 10  # CPython's (2000, 10, 10)
        assert oldest == 10  # cycles of closed sockets still collected
    finally:
        gc.set_threshold(*before)
