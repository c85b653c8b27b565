"""A TCP relay that delays every byte by a fixed time in each direction: netem's stand-in.

``bench.netem`` delays packets with the kernel's ``netem`` qdisc where the
kernel has one. Where it has none (a minimal VM kernel built without
``CONFIG_NET_SCHED``: ``tc`` answers "Specified qdisc kind is unknown"), this
relay runs inside the namespace instead, listening on the namespace's veth
address and forwarding to the PostgreSQL server's Unix socket: each chunk read
from one side is written to the other ``--delay-us`` later (half the round
trip; both directions, so a query's answer comes back one round trip later).
Chunks keep their order and are not held behind each other: a pipelined
stream is delayed, not throttled, as with netem. No packaged tool fits here
(Toxiproxy, the usual one, is neither in Debian nor on PyPI).

One thread, one ``select`` loop: ``select`` takes its timeout in microseconds
(``epoll`` and ``poll`` round up to whole milliseconds, too coarse for a
0.25 ms delay). The delay is a lower bound: a busy machine adds its scheduling
latency on top, as it would to netem's timer.

    python -m bench.delayline --listen 10.213.1.2:5432 --upstream /tmp/x/.s.PGSQL.5432 --delay-us 250
"""

from __future__ import annotations

import argparse
import collections
import select
import signal
import socket
import sys
import time
from types import FrameType


class Pipe:
    """One direction of one connection: chunks read from ``src``, due for ``dst`` at their time."""

    def __init__(self, src: socket.socket, dst: socket.socket) -> None:
        self.src, self.dst = src, dst
        self.queue: collections.deque[tuple[float, bytes]] = collections.deque()  # b"" stands for EOF
        self.open = True


def serve(listen: tuple[str, int], upstream: str, delay: float) -> None:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(listen)
    server.listen(256)
    pipes: dict[socket.socket, Pipe] = {}  # by source socket
    peers: dict[socket.socket, socket.socket] = {}

    def close(sock: socket.socket) -> None:
        for s in (sock, peers.get(sock)):
            if s is not None:
                pipes.pop(s, None)
                peers.pop(s, None)
                s.close()

    while True:
        now = time.monotonic()
        due = [p.queue[0][0] for p in pipes.values() if p.queue]
        timeout = max(0.0, min(due) - now) if due else None
        readable, _, _ = select.select([server, *[s for s, p in pipes.items() if p.open]], [], [], timeout)
        now = time.monotonic()
        for sock in readable:
            if sock is server:
                client, _ = server.accept()
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                backend = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    backend.connect(upstream)
                except OSError:
                    client.close()
                    backend.close()
                    continue
                pipes[client], pipes[backend] = Pipe(client, backend), Pipe(backend, client)
                peers[client], peers[backend] = backend, client
                continue
            pipe = pipes.get(sock)
            if pipe is None:
                continue
            try:
                data = sock.recv(65536)
            except OSError:
                data = b""
            pipe.queue.append((now + delay, data))
            if not data:
                pipe.open = False  # nothing more to read; the EOF itself is delayed like the data
        for pipe in list(pipes.values()):
            while pipe.queue and pipe.queue[0][0] <= now:
                _, data = pipe.queue.popleft()
                try:
                    if data:
                        pipe.dst.sendall(data)
                    else:
                        pipe.dst.shutdown(socket.SHUT_WR)
                except OSError:
                    close(pipe.src)
                    break
            if pipe.src in pipes and not pipe.open and not pipe.queue:
                other = pipes.get(pipe.dst)
                if other is not None and not other.open and not other.queue:
                    close(pipe.src)


def _stop(signum: int, frame: FrameType | None) -> None:
    sys.exit(0)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.delayline", description=__doc__)
    parser.add_argument("--listen", required=True, help="HOST:PORT")
    parser.add_argument("--upstream", required=True, help="the server's Unix socket")
    parser.add_argument("--delay-us", type=int, required=True, help="added to each direction")
    args = parser.parse_args(argv)
    host, port = args.listen.rsplit(":", 1)
    signal.signal(signal.SIGTERM, _stop)
    serve((host, int(port)), args.upstream, args.delay_us / 1e6)


if __name__ == "__main__":
    main()
