"""Reading what the service logs, as its own formatter renders it (``project.observability.logging``)."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from project.observability.logging import formatter


class CapturedLogs:
    def __init__(self, buffer: io.StringIO) -> None:
        self.buffer = buffer

    def text(self) -> str:
        return self.buffer.getvalue()

    def lines(self) -> list[dict[str, Any]]:
        """Every line, parsed (each must be one JSON object)."""
        return [json.loads(line) for line in self.text().splitlines() if line.strip()]

    def events(self, name: str) -> list[dict[str, Any]]:
        return [line for line in self.lines() if line.get("event") == name]


@contextmanager
def captured_logs(*, log_format: str = "json", every_logger_at: int | None = None) -> Iterator[CapturedLogs]:
    """Every record that reaches the root (and loggers that do not propagate), rendered as ``log_format``.

    ``every_logger_at``: also set the root and every logger to that level for the
    block (DEBUG: nothing any logger could write is filtered out), then restore them.
    """
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    loggers = [root, *(lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger))]
    levels = {lg: lg.level for lg in loggers}
    islands = [lg for lg in loggers if lg is not root and not lg.propagate]
    for lg in [root, *islands]:
        lg.addHandler(handler)
    if every_logger_at is not None:
        for lg in loggers:
            lg.setLevel(every_logger_at)
    try:
        yield CapturedLogs(buffer)
    finally:
        for lg in [root, *islands]:
            lg.removeHandler(handler)
        for lg, level in levels.items():
            lg.setLevel(level)


def mentions(text: str, secret: str) -> bool:
    """Whether ``secret`` appears in ``text``. A secret of digits (a PIN, a code) counts only where it
    stands alone: inside a random hex request id (``…b4826f3…``) or a longer number it is no leak."""
    if not secret.isdigit():
        return secret in text
    return re.search(rf"(?<![0-9A-Za-z]){secret}(?![0-9A-Za-z])", text) is not None
