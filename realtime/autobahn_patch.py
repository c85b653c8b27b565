"""Format autobahn's debug log arguments only when a debug line is written.

autobahn (26.10.2) builds the arguments of its debug lines eagerly, before
txaio's logger finds the line below its level and drops it:

* ``WebSocketProtocol._connectionMade`` (``autobahn/websocket/protocol.py``)
  runs ``pformat`` over its ~36 configuration attributes on every connection:
  ``self.log.debug("\\n{attrs}", attrs=pformat(configAttrLog))``;
* the server's ``_connectionMade``, ``processHandshake``, ``onConnect``,
  ``_connectionLost`` and ``sendData`` (every frame sent) in that module, and
  the Twisted adapter's ``connectionMade``, ``connectionLost`` and
  ``dataReceived`` (every read) in ``autobahn/twisted/websocket.py``, colour
  their arguments with ``hltype``/``hlval`` (``click.style``).

With debug logging off (txaio's default level, ``info``, as under daphne) all
of it is thrown away, at a cost measured in docs/performance.md ("What
autobahn's debug formatting cost"). In the modules of ``MODULES`` those names build log arguments and
nothing else (``Timings.__str__`` aside, which keeps the real ``pformat``: it
must return a ``str``), so rebinding them there to functions returning a
:class:`LazyText`, formatted when a log observer formats the line, makes every
such line lazy without copying autobahn's code. With debug on the lines are
written as before, with the same text. Nothing the protocol does is skipped.

The upstream change would be the same, or an ``if`` around each debug line (the
standard library's ``isEnabledFor``). Applied once, from ``project/asgi.py``,
only to an autobahn version in ``TESTED_VERSIONS``: another version is left
as it is, with a warning, and tests/realtime/test_autobahn_patch.py fails (it
checks the patch is in force, and that every use of those names in those modules
is still a log argument), so an upgrade is read again rather than patched blind.
"""

from __future__ import annotations

import importlib
import pprint
from collections.abc import Callable
from typing import Any

import structlog

logger = structlog.get_logger(__name__)

# autobahn releases whose modules below were read for this patch.
TESTED_VERSIONS = frozenset({"26.10.2"})
# Module -> the names rebound in it (each used there only to build log arguments).
MODULES: dict[str, tuple[str, ...]] = {
    "autobahn.websocket.protocol": ("pformat", "hltype", "hlval"),
    "autobahn.twisted.websocket": ("hltype", "hlval"),
}
# What the patch replaced, while it is in force: (module, name) -> original.
_originals: dict[tuple[str, str], Any] = {}
_announced: list[bool] = []


class LazyText:
    """A log argument computed when the line is formatted (``format``, ``str`` or ``repr``), at most once."""

    __slots__ = ("_args", "_func", "_text")

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self._func = func
        self._args = args
        self._text: str | None = None

    def _value(self) -> str:
        if self._text is None:
            self._text = str(self._func(*self._args))
            self._args = ()
        return self._text

    def __format__(self, spec: str) -> str:
        return format(self._value(), spec)

    def __str__(self) -> str:
        return self._value()

    def __repr__(self) -> str:
        return repr(self._value())


def _lazy(func: Callable[..., Any]) -> Callable[..., LazyText]:
    def lazy(*args: Any) -> LazyText:
        return LazyText(func, *args)

    lazy.paylane_patched = True  # type: ignore[attr-defined]
    lazy.__wrapped__ = func  # type: ignore[attr-defined]
    return lazy


def _timings_str(self: Any) -> str:
    return pprint.pformat(self._timings)


def autobahn_debug_lazy() -> bool:
    """Make autobahn's websocket debug lines lazy; True when the patch is in force."""
    try:
        import autobahn
    except ImportError:  # another server: nothing to patch
        return False
    if in_force():
        return True
    if autobahn.__version__ not in TESTED_VERSIONS:
        logger.warning("autobahn_patch_skipped", autobahn=autobahn.__version__, tested=sorted(TESTED_VERSIONS))
        return False
    for module_name, names in MODULES.items():
        module = importlib.import_module(module_name)
        for name in names:
            original = getattr(module, name)
            _originals[module_name, name] = original
            setattr(module, name, _lazy(original))
    protocol = importlib.import_module("autobahn.websocket.protocol")
    _originals["autobahn.websocket.protocol", "Timings.__str__"] = protocol.Timings.__str__
    protocol.Timings.__str__ = _timings_str
    if not _announced:  # once per process: the server's log says the patch is in force
        _announced.append(True)
        logger.info("autobahn_debug_lazy", autobahn=autobahn.__version__)
    return True


def autobahn_debug_eager() -> None:
    """Undo :func:`autobahn_debug_lazy` (autobahn as released): the benchmark's "before", and tests."""
    for (module_name, name), original in list(_originals.items()):
        module = importlib.import_module(module_name)
        if name == "Timings.__str__":
            module.Timings.__str__ = original
        else:
            setattr(module, name, original)
    _originals.clear()


def in_force() -> bool:
    """Whether autobahn formats its websocket debug arguments lazily in this process."""
    try:
        modules = {name: importlib.import_module(name) for name in MODULES}
    except ImportError:
        return False
    return all(
        getattr(getattr(modules[module_name], name, None), "paylane_patched", False)
        for module_name, names in MODULES.items()
        for name in names
    )
