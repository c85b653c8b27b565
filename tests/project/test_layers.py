"""Layers point one way: the import contracts of pyproject.toml ([tool.importlinter]) hold.

The ledger imports nothing of ours; only the API, the pages and the project
import the API; the domain reaches the websocket only through realtime.notify;
no package has an import circle between its modules. `make lint` checks the
same contracts with lint-imports.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_import_contract_is_kept() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
