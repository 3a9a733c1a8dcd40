"""A short, in-process history of leadwatch's own metrics and of the host.

Prometheus keeps this history in stack mode; a standalone process has no one
scraping it, so this service samples the registry (and psutil) every
``dashboards.sample_interval_seconds`` and keeps ``dashboards.history_hours`` of
samples for the Technical Operations page. Only the families the page reads are
kept, summed over the labels it does not show, and each sample stores its values
as one packed array (a day at 15 s is a few megabytes, not hundreds). In
standalone mode the samples outlive a restart through a snapshot
(:mod:`leadwatch.store.snapshots`): :meth:`MetricsHistory.dump` and
:meth:`MetricsHistory.restore`.
"""

from __future__ import annotations

import threading
import time
from array import array
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import astuple, dataclass, fields
from pathlib import Path
from typing import ClassVar

import psutil
from prometheus_client import CollectorRegistry

from leadwatch.background import PeriodicService
from leadwatch.store.snapshots import Snapshot

# Sample name -> the labels kept (the others are summed away).
WATCHED: dict[str, tuple[str, ...]] = {
    "leadwatch_http_requests_total": ("route", "status"),
    "leadwatch_http_request_duration_seconds_bucket": ("route", "le"),
    "leadwatch_write_buffer_depth": ("table",),
}

# Counters by Prometheus' naming; after a restart they go on from their last stored value.
COUNTERS = frozenset(name for name in WATCHED if name.endswith(("_total", "_bucket", "_count", "_sum")))

Key = tuple[str, tuple[str, ...]]  # (sample name, values of the kept labels)


@dataclass(frozen=True)
class HostSample:
    cpu_percent: float
    memory_percent: float
    disk_percent: float
    net_sent_bytes: float
    net_recv_bytes: float


@dataclass(frozen=True)
class Sample:
    ts: float  # Unix seconds
    values: array[float]  # indexed by MetricsHistory's key positions
    host: HostSample


class MetricsHistory(PeriodicService):
    """Samples of the registry and the host, oldest first; also a Runtime service."""

    name = "dashboards-sampler"
    join_timeout = 10
    snapshot_version: ClassVar[int] = 1
    failure_event = "metrics_sample_failed"  # a failed sample must not end the history

    def __init__(
        self,
        registry: CollectorRegistry,
        disk_path: Path,
        *,
        interval: float,
        history_seconds: float,
        clock: Callable[[], float] = time.time,
    ):
        super().__init__()
        self.registry = registry
        self.disk_path = disk_path
        self.interval = interval
        self.history_seconds = history_seconds
        self._clock = clock
        self._positions: dict[Key, int] = {}
        # Counter values the previous process reached (from a snapshot), added to this
        # process's own, which start again from 0, so a window across a restart is a
        # plain difference and the downtime adds nothing.
        self._carried: dict[Key, float] = {}
        self._samples: deque[Sample] = deque(maxlen=int(history_seconds / interval) + 1)
        self._lock = threading.Lock()

    # -- reading --------------------------------------------------------------

    def keys(self, sample_name: str) -> list[Key]:
        with self._lock:
            return [k for k in self._positions if k[0] == sample_name]

    def value(self, sample: Sample, key: Key) -> float:
        """A key's value in a sample; 0 for series that appeared after it was taken."""
        position = self._positions.get(key)
        if position is None or position >= len(sample.values):
            return 0.0
        return sample.values[position]

    def between(self, start: float, end: float) -> list[Sample]:
        """Kept samples in [start, end], plus a live one when ``end`` is now or later,
        so the newest window of a page is never a sampling interval stale."""
        with self._lock:
            kept = [s for s in self._samples if start <= s.ts <= end]
        if end >= self._clock() - 1:
            kept.append(self.snapshot())
        return kept

    @property
    def oldest(self) -> float | None:
        with self._lock:
            return self._samples[0].ts if self._samples else None

    # -- sampling -------------------------------------------------------------

    def snapshot(self) -> Sample:
        """The registry and host now (not kept)."""
        totals: dict[Key, float] = {}
        for name, labels, value in self._watched_samples():
            key = (name, tuple(labels.get(label, "") for label in WATCHED[name]))
            totals[key] = totals.get(key, 0.0) + value
        with self._lock:
            for key in totals:
                self._positions.setdefault(key, len(self._positions))
            values = array("d", bytes(8 * len(self._positions)))
            for key, carried in self._carried.items():
                values[self._positions[key]] = carried
            for key, value in totals.items():
                values[self._positions[key]] += value
        return Sample(self._clock(), values, self._host())

    def record(self) -> Sample:
        sample = self.snapshot()
        with self._lock:
            self._samples.append(sample)
        return sample

    def _watched_samples(self) -> Iterable[tuple[str, dict[str, str], float]]:
        for family in self.registry.collect():
            for s in family.samples:
                if s.name in WATCHED:
                    yield s.name, s.labels, s.value

    def _host(self) -> HostSample:
        net = psutil.net_io_counters()
        try:
            disk = psutil.disk_usage(str(self.disk_path)).percent
        except OSError:  # the data dir may not exist yet (PostgreSQL-only setups)
            disk = psutil.disk_usage("/").percent
        return HostSample(
            # Since the previous call: the first call of a process reads 0.0.
            cpu_percent=psutil.cpu_percent(interval=None),
            memory_percent=psutil.virtual_memory().percent,
            disk_percent=disk,
            net_sent_bytes=float(net.bytes_sent) if net else 0.0,
            net_recv_bytes=float(net.bytes_recv) if net else 0.0,
        )

    # -- snapshots (leadwatch.store.snapshots) ----------------------------------

    def dump(self) -> Snapshot:
        """The keys in position order, and the samples packed in four arrays: times,
        each sample's number of values, the values one sample after another, and the
        host figures."""
        with self._lock:
            keys = list(self._positions)  # a dict keeps insertion order: position order
            samples = list(self._samples)
        times = array("d", (s.ts for s in samples))
        lengths = array("q", (len(s.values) for s in samples))
        values: array[float] = array("d")
        host: array[float] = array("d")
        for sample in samples:
            values.extend(sample.values)
            host.extend(astuple(sample.host))
        meta = {"watched": WATCHED, "keys": keys}
        return Snapshot(meta, [times, lengths, values, host])

    def restore(self, snapshot: Snapshot, now: float) -> int:
        """Take dumped samples as this history's, without those older than
        ``history_seconds`` at ``now``; keys of metrics no longer watched, or watched
        with other labels, are dropped (returns how many)."""
        times, lengths, values, host = snapshot.arrays
        width = len(fields(HostSample))
        if len(lengths) != len(times) or len(host) != width * len(times) or sum(lengths) != len(values):
            raise ValueError("sample arrays differ in length")
        watched = {name: tuple(labels) for name, labels in snapshot.meta["watched"].items()}
        stored: list[Key] = [(str(name), tuple(map(str, labels))) for name, labels in snapshot.meta["keys"]]
        kept = [i for i, (name, _) in enumerate(stored) if name in WATCHED and watched.get(name) == WATCHED[name]]
        positions = {stored[i]: new for new, i in enumerate(kept)}
        samples: deque[Sample] = deque(maxlen=self._samples.maxlen)
        offset = 0
        for i, ts in enumerate(times):
            row = values[offset:offset + lengths[i]]
            offset += lengths[i]
            if ts < now - self.history_seconds:
                continue
            # Positions only ever grow, so a sample's values cover a prefix of the keys.
            row = row if len(kept) == len(stored) else array("d", (row[j] for j in kept if j < len(row)))
            samples.append(Sample(ts, row, HostSample(*host[width * i:width * (i + 1)])))
        last = values[len(values) - lengths[-1]:] if len(times) else array("d")
        carried = {stored[i]: last[i] for i in kept if stored[i][0] in COUNTERS and i < len(last)}
        with self._lock:
            self._positions, self._samples, self._carried = positions, samples, carried
        return len(stored) - len(kept)

    # -- service --------------------------------------------------------------

    def start(self) -> None:
        self.record()  # the page has a first sample at once
        super().start()

    def tick(self) -> None:
        self.record()
