"""Counters over time, keyed by client: the building blocks of the rate detectors.

Each takes a ``clock`` (seconds, monotonic) so tests drive time by hand. Memory is
bounded twice: a key never holds more than its threshold's worth of timestamps, and
a counter keeps at most ``max_keys`` keys, forgetting the least recently seen first
(an attacker rotating addresses cannot grow it without limit).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
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


class SlidingWindow(_Window["deque[float]"]):
    """Exact count of hits per key within the last ``window`` seconds, told against a
    threshold: ``hit`` answers whether the key is now *over* it (> threshold)."""

    def hit(self, key: Hashable, at: float | None = None) -> bool:
        now = self.clock() if at is None else at
        with self._lock:
            # Only the newest threshold + 1 hits can decide "over": keep no more.
            hits = self._get(key, lambda: deque(maxlen=self.threshold + 1))
            hits.append(now)
            return len(hits) > self.threshold and now - hits[0] < self.window

    def first_hit(self, key: Hashable) -> float | None:
        """When the oldest hit still counted for ``key`` happened."""
        with self._lock:
            hits = self._state.get(key)
            return hits[0] if hits else None


class DistinctWindow(_Window["OrderedDict[Hashable, float]"]):
    """Distinct values seen per key within ``window`` seconds (e.g. usernames tried
    from one address): ``add`` answers whether there are now more than ``threshold``."""

    def add(self, key: Hashable, value: Hashable, at: float | None = None) -> bool:
        now = self.clock() if at is None else at
        with self._lock:
            seen = self._get(key, OrderedDict)
            seen.pop(value, None)
            seen[value] = now
            while seen and now - next(iter(seen.values())) >= self.window:
                seen.popitem(last=False)
            while len(seen) > self.threshold + 1:
                seen.popitem(last=False)
            return len(seen) > self.threshold

    def first_hit(self, key: Hashable) -> float | None:
        """When the oldest distinct value still counted for ``key`` was last seen."""
        with self._lock:
            seen = self._state.get(key)
            return next(iter(seen.values())) if seen else None


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
