"""Exit 0 when every URL given (postgres://, redis://) accepts a TCP connection."""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlsplit


def answers(url: str) -> bool:
    parts = urlsplit(url)
    default_port = {"redis": 6379, "rediss": 6379}.get(parts.scheme, 5432)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":
    sys.exit(0 if all(answers(url) for url in sys.argv[1:]) else 1)
