"""Free ports on loopback for the stacks that tests, benchmarks and the cluster start.

One place for "is this port free" and "find a block of free ports": `make serve`'s stack
(deploy/serve.py) refuses to start when one of its workers' ports is taken, so its callers pick a
base whose whole block is free first. Ports are taken from below Linux's ephemeral range
(32768 and up), where the kernel's own outgoing connections never land.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Callable

# honcho's ports (deploy/Procfile): the n-th line's processes get base + 100 * n, + 1 per process.
PORTS_PER_LINE = 100


def bindable(port: int) -> bool:
    """Whether a listener could bind 127.0.0.1:port now."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port the kernel says is free (the ephemeral range)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def free_base(ports_of: Callable[[int], list[int]], low: int, high: int, step: int = 1) -> int:
    """A base in [low, high) whose every port (``ports_of(base)``) is free."""
    for _ in range(200):
        base = random.randrange(low, high, step)
        if all(bindable(port) for port in ports_of(base)):
            return base
    raise RuntimeError(f"no free block of ports between {low} and {high}")


def free_upstream_base(web_processes: int, low: int, high: int) -> int:
    """A PAYLANE_UPSTREAM_PORT whose HTTP workers (base..) and websocket server (base + 100) are free."""
    return free_base(lambda base: [*range(base, base + web_processes), base + PORTS_PER_LINE], low, high)
