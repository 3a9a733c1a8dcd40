"""Python's cyclic garbage collector, tuned for the two hot paths: serving requests
(``serving_heap``) and ingesting log batches (``collector_paused``).

What start-up builds (modules, parsers, routes, settings, caches) lives as long as the
process, yet every full collection would walk it again; requests meanwhile allocate
thousands of short-lived objects a second, and the default young-generation threshold
(700 allocations) runs a collection every request or two. While the app serves, the
start-up heap is frozen out of collection and the youngest generation is collected
every 10,000 allocations: about 5% less CPU per /collect request (docs/tracking.md).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 10_000


@contextmanager
def serving_heap() -> Iterator[None]:
    """Freeze what exists now and raise the young threshold; undo both on exit (tests
    and embedding hosts run several apps in one process)."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


class CollectorPause:
    """Holds Python's cyclic garbage collector off while any batch is in flight.

    A batch makes a few objects per line that all live until it is written and form
    no cycles (reference counting frees them). Their sheer number still sets off the
    collector again and again mid-batch, and its full passes walk every cache too:
    about a seventh of the pipeline's time, for nothing to collect. The pause is
    process-wide, so it is counted across the threads that ingest at once; the
    collector resumes (if it was on) when the last batch in flight ends."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batches = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._batches == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._batches += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._batches -= 1
            if self._batches == 0 and self._resume:
                gc.enable()


collector_paused = CollectorPause()
