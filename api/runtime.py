"""How Clearance's own server processes (the API, the gateway) run the garbage collector.

Start-up objects (settings, policy, libraries, the register snapshot) never die: `tuned_gc`
moves them out of the collector's way (gc.freeze) and collects the young generations less
often, so that full collections do not stall answers (the p99 of docs/performance.md). Answers
themselves are not reference cycles: reference counting frees them either way.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THRESHOLDS = (50_000, 20, 100)


@contextmanager
def tuned_gc() -> Iterator[None]:
    """For the life of a server: restored afterwards (tests run many servers in one process)."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(*THRESHOLDS)
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
