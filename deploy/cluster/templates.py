"""The parts' configuration files, from the templates beside this module (``@NAME@`` holes)."""

from __future__ import annotations

import re
from pathlib import Path

from deploy.cluster.processes import fail

HERE = Path(__file__).resolve().parent


def render(template: str, values: dict[str, str]) -> str:
    text = (HERE / template).read_text()
    unknown = set(re.findall(r"@([A-Z0-9_]+)@", text)) - values.keys()
    if unknown:
        fail(f"deploy/cluster/{template} names values cluster.py does not have: {sorted(unknown)}")
    return re.sub(r"@([A-Z0-9_]+)@", lambda m: values[m.group(1)], text)
