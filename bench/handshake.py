"""`handshake`: the CPU of autobahn's websocket handshake, with its debug lines eager (as released) and lazy.

In process, no network, no database: autobahn's Twisted server protocol (the
class daphne's ``WebSocketProtocol`` extends) on an in-memory transport takes a
connection, reads an RFC 6455 upgrade request, answers ``101 Switching
Protocols``, sends one text frame and loses the connection: the per-socket work
of autobahn in a connect storm, without the application's. ``--repeats`` rounds
alternate autobahn as released and with ``realtime/autobahn_patch.py``
(``autobahn_debug_lazy``), ``--handshakes`` each; CPU per handshake is
``time.process_time``, the figure to read is the ratio lazy / eager of the
medians in the same run. A cProfile of one eager round shows where the time
goes. Debug logging is off, as in production (txaio's default level, ``info``).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import os
import pstats
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import harness


def handshake_factory(key: str | None = None) -> Callable[[], bytes]:
    """One handshake per call, through autobahn's Twisted server protocol; returns what the server wrote.

    ``key``: the client's ``Sec-WebSocket-Key`` (random per handshake without it).
    """
    from autobahn.twisted.websocket import WebSocketServerFactory, WebSocketServerProtocol
    from twisted.internet.error import ConnectionDone
    from twisted.internet.testing import StringTransport
    from twisted.python.failure import Failure

    class Protocol(WebSocketServerProtocol):
        def onOpen(self) -> None:
            self.sendMessage(b'{"type": "hello"}')

    factory = WebSocketServerFactory("ws://127.0.0.1:8000")
    factory.protocol = Protocol
    factory.setProtocolOptions(openHandshakeTimeout=0, closeHandshakeTimeout=0, autoPingInterval=0)
    done = Failure(ConnectionDone())

    def handshake() -> bytes:
        nonce = key or base64.b64encode(os.urandom(16)).decode()
        request = (
            "GET /ws/wallet/ HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {nonce}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        protocol: Any = factory.buildProtocol(None)  # the peer's address comes from the transport
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(request)
        protocol.connectionLost(done)
        return transport.value()

    return handshake


def cpu_per_handshake_us(handshake: Callable[[], bytes], count: int) -> float:
    began = time.process_time()
    for _ in range(count):
        handshake()
    return (time.process_time() - began) / count * 1e6


def profile_top(handshake: Callable[[], bytes], count: int, lines: int = 12) -> tuple[str, dict[str, float]]:
    """A cProfile of ``count`` handshakes: its top by cumulative time, and the formatting helpers' shares (%)."""
    import pprint

    from autobahn import util

    helpers = {"pformat": pprint.pformat, "hltype": util.hltype, "hlval": util.hlval}
    codes = {name: function.__code__ for name, function in helpers.items()}
    where = {(code.co_filename, code.co_firstlineno, code.co_name): name for name, code in codes.items()}
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(count):
        handshake()
    profile.disable()
    stats = pstats.Stats(profile)
    total = max(stats.total_tt, 1e-9)  # type: ignore[attr-defined]
    shares = {
        where[func]: round(100 * cumulative / total, 1)
        for func, (_cc, _nc, _tt, cumulative, _callers) in stats.stats.items()  # type: ignore[attr-defined]
        if func in where
    }
    out = io.StringIO()
    pstats.Stats(profile, stream=out).strip_dirs().sort_stats("cumulative").print_stats(lines)
    return out.getvalue(), shares


def main(argv: list[str]) -> dict[str, Any]:
    parser = argparse.ArgumentParser(prog="python -m bench handshake", description=__doc__)
    parser.add_argument("--handshakes", type=int, default=2000, help="handshakes per round")
    parser.add_argument("--repeats", type=int, default=7, help="rounds of each variant, alternating")
    parser.add_argument("--profile", type=int, default=300, help="handshakes in the cProfile of each variant")
    parser.add_argument("--name", default="handshake")
    args = parser.parse_args(argv)

    import autobahn

    from realtime.autobahn_patch import autobahn_debug_eager, autobahn_debug_lazy

    handshake = handshake_factory()
    assert b"101 Switching Protocols" in handshake(), "the handshake did not succeed"
    variants: dict[str, Callable[[], object]] = {"eager": autobahn_debug_eager, "lazy": autobahn_debug_lazy}
    for apply in variants.values():  # warm both paths up
        apply()
        cpu_per_handshake_us(handshake, 200)
    rounds: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, apply in variants.items():
            apply()
            rounds[name].append(round(cpu_per_handshake_us(handshake, args.handshakes), 1))
    medians = {name: round(statistics.median(values), 1) for name, values in rounds.items()}
    profiles = {}
    for name, apply in variants.items():
        apply()
        text, shares = profile_top(handshake, args.profile)
        profiles[name] = {"shares_pct": shares, "top": text}
    autobahn_debug_lazy()
    report = {
        "args": vars(args),
        "autobahn": autobahn.__version__,
        "us_per_handshake": rounds,
        "median_us": medians,
        "lazy_over_eager": round(medians["lazy"] / medians["eager"], 3),
        "profiles": profiles,
    }
    print(f"autobahn {autobahn.__version__}, {args.repeats} x {args.handshakes} handshakes per variant, CPU µs each:")
    rows = [{"variant": name, "median_us": medians[name], "rounds_us": rounds[name]} for name in variants]
    print(harness.table(rows, ["variant", "median_us", "rounds_us"]))
    print(f"lazy / eager: {report['lazy_over_eager']}")
    for name in variants:
        print(f"\ncProfile, {name}, {args.profile} handshakes; share of profiled time: {profiles[name]['shares_pct']}")
        print(profiles[name]["top"])
    print(f"wrote {harness.write_results(args.name, report)}")
    return report
