"""autobahn's debug lines are formatted only when written (realtime/autobahn_patch.py).

In process, a handshake goes through autobahn's Twisted server protocol on an
in-memory transport (bench/handshake.py drives it the same way); end to end, a
real daphne serving ``project.asgi``.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import json
import pprint
import subprocess
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import autobahn
import pytest
import txaio
from autobahn import util
from twisted.logger import formatEvent, globalLogPublisher
from websockets.asyncio.client import connect

from bench.handshake import handshake_factory
from realtime.autobahn_patch import MODULES, TESTED_VERSIONS, autobahn_debug_eager, autobahn_debug_lazy
from tests.support.live import BASE_DIR, Daphne
from wallets.accounts.tokens import token_issue
from wallets.models import User

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455's sample nonce: the same handshake every time
SWITCHING = b"HTTP/1.1 101 Switching Protocols"


@pytest.fixture
def eager() -> Iterator[None]:
    """autobahn as released for the test, the patch again after it."""
    autobahn_debug_eager()
    try:
        yield
    finally:
        autobahn_debug_lazy()


@pytest.fixture
def debug_lines() -> Iterator[list[str]]:
    """txaio's loggers at debug for the test; the text of every line they write."""
    lines: list[str] = []

    def observe(event: dict[str, Any]) -> None:
        if str(event.get("log_namespace", "")).startswith("autobahn."):
            lines.append(formatEvent(event))

    level = txaio.get_global_log_level()
    txaio.set_global_log_level("debug")
    globalLogPublisher.addObserver(observe)
    try:
        yield lines
    finally:
        globalLogPublisher.removeObserver(observe)
        txaio.set_global_log_level(level)


def calls_of(functions: list[Callable[..., Any]], run: Callable[[], object]) -> list[str]:
    """The names of ``functions`` called while ``run`` runs, however they are bound (a profile hook)."""
    codes = {function.__code__: function.__name__ for function in functions}
    seen: list[str] = []

    def hook(frame: FrameType, event: str, _arg: Any) -> None:
        if event == "call" and frame.f_code in codes:
            seen.append(codes[frame.f_code])

    sys.setprofile(hook)
    try:
        run()
    finally:
        sys.setprofile(None)
    return seen


@pytest.fixture(autouse=True)
def lazy() -> None:
    """The patch in force, as in the server (idempotent), whatever ran before."""
    autobahn_debug_lazy()


def test_the_asgi_entry_point_puts_the_patch_in_force() -> None:
    # A fresh process: what daphne does when it loads the application.
    check = "import project.asgi; from realtime.autobahn_patch import in_force; raise SystemExit(not in_force())"
    done = subprocess.run([sys.executable, "-c", check], cwd=BASE_DIR, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr[-2000:]


def test_the_installed_autobahn_is_a_version_the_patch_was_read_against() -> None:
    # An upgrade fails here: read MODULES' modules again, then add the version.
    assert autobahn.__version__ in TESTED_VERSIONS


def test_every_use_of_the_rebound_names_is_an_argument_of_a_log_call() -> None:
    """Rebinding is only safe while autobahn uses these names for log arguments and nothing else."""
    misuses = []
    for module_name, names in MODULES.items():
        tree = ast.parse(inspect.getsource(importlib.import_module(module_name)))
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Name) and node.id in names):
                continue
            call, argument = parents.get(node), parents.get(parents.get(node))  # type: ignore[arg-type]
            log_call = parents.get(argument) if isinstance(argument, ast.keyword) else argument
            is_log_argument = (
                isinstance(call, ast.Call)
                and call.func is node
                and isinstance(log_call, ast.Call)
                and isinstance(log_call.func, ast.Attribute)
                and isinstance(log_call.func.value, ast.Attribute)
                and log_call.func.value.attr == "log"
            )
            in_timings_str = node.id == "pformat" and _enclosing(parents, node) == ("Timings", "__str__")
            if not (is_log_argument or in_timings_str):
                misuses.append(f"{module_name}:{node.lineno} {node.id}")
    assert misuses == []


def _enclosing(parents: dict[ast.AST, ast.AST], node: ast.AST) -> tuple[str, str] | None:
    function = None
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef) and function is None:
            function = node.name
        if isinstance(node, ast.ClassDef):
            return node.name, function or ""
    return None


def test_with_debug_off_a_handshake_formats_nothing_for_the_log() -> None:
    handshake = handshake_factory(KEY)
    answers: list[bytes] = []

    called = calls_of([pprint.pformat, util.hltype, util.hlval], lambda: answers.append(handshake()))

    assert called == []
    assert answers[0].startswith(SWITCHING)


def test_autobahn_as_released_formats_its_configuration_on_every_handshake(eager: None) -> None:
    # The spy above sees these calls when they happen.
    called = calls_of([pprint.pformat, util.hltype, util.hlval], handshake_factory(KEY))

    assert {"pformat", "hltype", "hlval"} <= set(called)


def test_with_debug_on_the_lines_are_written_with_the_same_text_as_autobahn_as_released(
    debug_lines: list[str],
) -> None:
    handshake = handshake_factory(KEY)
    handshake()
    lazy = list(debug_lines)
    debug_lines.clear()
    autobahn_debug_eager()
    try:
        handshake()
    finally:
        autobahn_debug_lazy()

    assert lazy == debug_lines
    assert any("'openHandshakeTimeout'" in line for line in lazy)  # the pformat-ed configuration
    assert any("connection accepted from peer" in line for line in lazy)


def test_a_handshake_answers_switching_protocols_and_sends_a_frame() -> None:
    answer = handshake_factory(KEY)()

    # RFC 6455's sample key and its accept value; then the server's first text frame.
    assert answer.startswith(SWITCHING)
    assert b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" in answer
    assert answer.endswith(b'\x81\x11{"type": "hello"}')


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_real_daphne_runs_with_the_patch_and_its_handshakes_work(servers: tuple[Daphne, Daphne], alice: User) -> None:
    server, _ = servers
    token = token_issue(user=alice)

    async def hello() -> dict[str, Any]:
        async with connect(server.ws, additional_headers={"Authorization": f"Bearer {token}"}, open_timeout=5) as ws:
            return json.loads(await asyncio.wait_for(ws.recv(), 5))

    frame = asyncio.run(hello())

    assert frame["type"] == "hello"
    assert "autobahn_debug_lazy" in server.log.read_text(errors="replace")
