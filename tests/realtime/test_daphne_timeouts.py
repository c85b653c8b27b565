"""realtime.daphne_timeouts: daphne's ping and timeout pass, in slices, still checks each connection once per period."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from project import asgi  # noqa: F401  (installs the patch, as the server does)
from realtime import daphne_timeouts


class Protocol:
    def __init__(self, checks: Counter[int]) -> None:
        self.checks = checks

    def check_timeouts(self) -> None:
        self.checks[id(self)] += 1


class Server:
    timeout_checker = daphne_timeouts.timeout_checker

    def __init__(self, protocols: list[Protocol]) -> None:
        self.connections = {protocol: {} for protocol in protocols}


def test_the_running_server_has_the_patch() -> None:
    from daphne.server import Server as DaphneServer

    assert daphne_timeouts.daphne_timeouts_spread()
    assert DaphneServer.timeout_checker is daphne_timeouts.timeout_checker


def test_every_connection_is_checked_exactly_once_per_period_and_a_slice_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scheduled: list[tuple[float, Any]] = []
    monkeypatch.setattr(daphne_timeouts, "call_later", lambda delay, call: scheduled.append((delay, call)))
    checks: Counter[int] = Counter()
    protocols = [Protocol(checks) for _ in range(2_000)]
    server = Server(protocols)
    largest = 0
    for period in range(3):
        for _ in range(daphne_timeouts.SLICES):
            before = sum(checks.values())
            server.timeout_checker()
            largest = max(largest, sum(checks.values()) - before)
        assert set(checks.values()) == {period + 1}, "a connection was skipped or checked twice"
        assert len(checks) == len(protocols)
    assert largest < len(protocols) / 4  # no pass over everything at once
    assert sum(delay for delay, _ in scheduled[: daphne_timeouts.SLICES]) == pytest.approx(daphne_timeouts.PERIOD)


def test_connections_opened_or_closed_meanwhile_are_checked_from_their_own_slice_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(daphne_timeouts, "call_later", lambda delay, call: None)
    checks: Counter[int] = Counter()
    server = Server([Protocol(checks) for _ in range(100)])
    for _ in range(daphne_timeouts.SLICES // 2):
        server.timeout_checker()
    late = Protocol(checks)
    server.connections[late] = {}
    server.connections.pop(next(iter(server.connections)))
    for _ in range(daphne_timeouts.SLICES):
        server.timeout_checker()
    assert checks[id(late)] == 1
