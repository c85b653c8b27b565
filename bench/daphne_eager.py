"""daphne with autobahn as released (debug arguments formatted eagerly): the "before" of a storm.

``PAYLANE_BENCH_DAPHNE_PREFIX="-m bench.daphne_eager" python -m bench sockets ...``
starts each daphne as ``python -m bench.daphne_eager -m daphne <args>``: this
stands ``realtime.autobahn_patch.autobahn_debug_lazy`` down before
``project.asgi`` imports it, then runs daphne's command line with ``<args>``.
Benchmarks only; the server is always started with the patch.
"""

from __future__ import annotations

import sys

from realtime import autobahn_patch


def main() -> None:
    args = sys.argv[1:]
    if args[:2] == ["-m", "daphne"]:
        args = args[2:]
    autobahn_patch.autobahn_debug_lazy = lambda: False
    from daphne.cli import CommandLineInterface

    sys.argv = ["daphne", *args]
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
