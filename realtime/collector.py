"""The garbage collector of a websocket server: young collections rare enough to stay out of the pushes' way.

CPython collects its youngest generation after every 2,000 net allocations of
container objects and the middle one after every 10 of those (``gc.get_threshold()``
is ``(2000, 10, 10)``). A websocket server with 2,000 sockets open allocates that
much for a few pushes, and its collections then paused daphne for 4 to 17 ms of
CPU each (the middle generation) and up to 40 ms (the youngest), several times a
second, with nothing to collect (``collected=0``): measured with ``gc.callbacks``
in the latency benchmark's daphne (docs/performance.md, "Issue 15, second
round"). Every push that arrives during a pause waits it out.

``collector_tune`` raises the first two thresholds, so the young collections run
25 times less often (``YOUNG``: every 50,000 allocations) and the middle ones 125
times less often; the oldest generation keeps CPython's rule (``OLDEST``, and a
full collection only once the survivors grew by a quarter), so cycles left by
closed sockets are still collected. Measured with ``python -m bench latency``
(2,000 sockets), alternated: steady-phase p99 33.0 and 34.9 ms as CPython ships
against 23.2 and 12.7 ms with (50,000, 50, 1,000); then 31.6 and 23.1 ms with
(2,000, 100, 10) against 17.7 and 14.7 ms with these. Called once from
``project/asgi.py``, after ``gc.freeze()``: the websocket server only (the HTTP
workers' requests are short and allocate little between their collections).
"""

from __future__ import annotations

import gc

YOUNG, MIDDLE, OLDEST = 50_000, 50, 10


def collector_tune() -> tuple[int, int, int]:
    """Set the websocket server's thresholds; what they are now."""
    gc.set_threshold(YOUNG, MIDDLE, OLDEST)
    return gc.get_threshold()
