"""daphne with the wallet consumer as Channels releases it: the "before" of ``WalletConsumer.dispatch``.

``PAYLANE_BENCH_DAPHNE_PREFIX="-m bench.daphne_hop" python -m bench latency ...``
(or ``bench sockets``) starts each daphne as ``python -m bench.daphne_hop -m
daphne <args>``: this gives ``realtime.consumers.WalletConsumer`` back
Channels' own ``dispatch`` and ``websocket_disconnect``, which run
``close_old_connections`` on Django's thread-sensitive thread before every
handler and after disconnect (docs/performance.md, sections 3 and 4), then runs
daphne's command line with ``<args>``. Benchmarks only.
"""

from __future__ import annotations

import sys

from channels.consumer import AsyncConsumer
from channels.generic.websocket import AsyncWebsocketConsumer


def main() -> None:
    args = sys.argv[1:]
    if args[:2] == ["-m", "daphne"]:
        args = args[2:]
    import django

    django.setup()
    from realtime.consumers import WalletConsumer

    WalletConsumer.dispatch = AsyncConsumer.dispatch  # type: ignore[method-assign]
    WalletConsumer.websocket_disconnect = AsyncWebsocketConsumer.websocket_disconnect  # type: ignore[method-assign]
    from daphne.cli import CommandLineInterface

    sys.argv = ["daphne", *args]
    CommandLineInterface.entrypoint()


if __name__ == "__main__":
    main()
