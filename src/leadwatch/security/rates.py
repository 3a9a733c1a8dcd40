"""Counters over time, keyed by client: the building blocks of the rate detectors.

Each takes a ``clock`` (seconds, monotonic) so tests drive time by hand. Memory is
bounded twice: a key never holds more than twice its threshold's worth of
timestamps, and a counter keeps at most ``max_keys`` keys, forgetting the least
recently seen first (an attacker rotating addresses cannot grow it without limit).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Clock = Callable[[], float]
DEFAULT_MAX_KEYS = 100_000

V = TypeVar("V")


class _Keyed(Generic[V]):
    """An LRU map of per-key state, with a lock (the middleware runs in one event loop,
    but log ingestion and login attempts come from worker threads)."""

    def __init__(self, max_keys: int):
        self._state: OrderedDict[Hashable, V] = OrderedDict()
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def _get(self, key: Hashable, new: Callable[[], V]) -> V:
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = new()
            if len(self._state) > self._max_keys:
                self._state.popitem(last=False)
        else:
            self._state.move_to_end(key)
        return state

    def __len__(self) -> int:
        return len(self._state)


class _Window(_Keyed[V]):
    """A count per key over the last ``window`` seconds, told against ``threshold``."""

    def __init__(
        self, threshold: int, window: float, clock: Clock = time.monotonic, max_keys: int = DEFAULT_MAX_KEYS
    ):
        super().__init__(max_keys)
        self.threshold = threshold
        self.window = window
        self.clock = clock


Run = tuple[float, float]  # the first and the last hit of a run that went over


class SlidingWindow(_Window["list[float]"]):
    """Hits per key, told against a threshold: ``hit`` answers the run of more than
    ``threshold`` hits within ``window`` seconds that the new hit completes, if any.

    Hits may come a little out of order (a server logs a request when it ends, with
    the time it began; two servers' logs are read one after the other): a late hit
    is counted where it belongs in time. A hit older than the key's newest by more
    than a window starts the key afresh, as a second timeline (an older log read
    after a newer one), rather than joining hits it was never near."""

    def hit(self, key: Hashable, at: float | None = None) -> Run | None:
        now = self.clock() if at is None else at
        n = self.threshold  # a run over the threshold is n + 1 hits
        with self._lock:
            hits = self._get(key, list)
            if hits and now < hits[-1] - self.window:
                hits.clear()
            pos = bisect.bisect_right(hits, now)
            hits.insert(pos, now)
            run = None
            # The runs of n + 1 hits that hold the new one; in time order only one.
            for i in range(max(0, pos - n), min(pos, len(hits) - 1 - n) + 1):
                if hits[i + n] - hits[i] < self.window:
                    run = (hits[i], hits[i + n])
                    break
            # Only the newest n + 1 hits decide for a hit in time order; keep up to
            # twice that for late ones, trimming in steps so each hit costs O(1).
            if len(hits) > 2 * (n + 1):
                del hits[: n + 1]
            return run


class DistinctWindow(_Window["dict[Hashable, float]"]):
    """Distinct values seen per key within ``window`` seconds (e.g. usernames tried
    from one address): ``add`` answers, once there are more than ``threshold``, the
    span from the oldest value still counted to the newest. Late values count as in
    ``SlidingWindow``; the window ends at the key's newest value."""

    def add(self, key: Hashable, value: Hashable, at: float | None = None) -> Run | None:
        now = self.clock() if at is None else at
        with self._lock:
            seen = self._get(key, dict)
            newest = max(seen.values(), default=now)
            if now < newest - self.window:
                seen.clear()
            seen[value] = max(now, seen.get(value, now))
            newest = max(newest, now)
            for old in [v for v, t in seen.items() if t <= newest - self.window]:
                del seen[old]
            if len(seen) > self.threshold + 1:  # only threshold + 1 can decide "over"
                del seen[min(seen, key=seen.__getitem__)]
            if len(seen) <= self.threshold:
                return None
            return (min(seen.values()), newest)


class TokenBucket(_Keyed["list[float]"]):
    """Per-key token bucket: ``capacity`` tokens, refilled at ``rate`` per second.

    ``take`` answers 0.0 when the request may proceed, else the seconds until a token
    is available (the Retry-After to send)."""

    def __init__(
        self, rate: float, capacity: float, clock: Clock = time.monotonic, max_keys: int = DEFAULT_MAX_KEYS
    ):
        if rate <= 0 or capacity < 1:
            raise ValueError("rate must be > 0 and capacity >= 1")
        super().__init__(max_keys)
        self.rate = rate
        self.capacity = capacity
        self.clock = clock

    def take(self, key: Hashable) -> float:
        now = self.clock()
        with self._lock:
            state = self._get(key, lambda: [self.capacity, now])  # [tokens, updated]
            tokens = min(self.capacity, state[0] + (now - state[1]) * self.rate)
            state[1] = now
            if tokens >= 1:
                state[0] = tokens - 1
                return 0.0
            state[0] = tokens
            return (1 - tokens) / self.rate
