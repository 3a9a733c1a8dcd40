"""The embedded evaluator's memory of the metrics: a small time-series store that keeps
only the series groups the catalogue reads (see :class:`~leadwatch.alerting.expr.Input`).

Counters are kept as the running sum of their *increases* per group: every raw
series contributes the difference from its previous sample (its value after a
reset; nothing on its first sample, as Prometheus' ``rate`` ignores a series'
first sample). Gauges keep the group's aggregate at each sample. Points younger
than ``fine_seconds`` are kept at full resolution, older ones one per
``coarse_step`` seconds, until the longest look-back an expression needs.

In standalone mode the history outlives a restart through a snapshot
(:mod:`leadwatch.store.snapshots`): :meth:`History.dump` and :meth:`History.restore`.
"""

from __future__ import annotations

import threading
from array import array
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from leadwatch.alerting.expr import Input, Labels, key_of
from leadwatch.store.snapshots import Snapshot

Sample = tuple[str, Mapping[str, str], float]  # metric name, labels, value

FINE_SECONDS = 2 * 3600.0
COARSE_STEP = 300.0


class _Series:
    __slots__ = ("coarse", "fine")

    def __init__(self) -> None:
        self.fine: deque[tuple[float, float]] = deque()
        self.coarse: deque[tuple[float, float]] = deque()


class History:
    snapshot_version: ClassVar[int] = 1

    def __init__(
        self,
        needs: Mapping[Input, float],
        fine_seconds: float = FINE_SECONDS,
        coarse_step: float = COARSE_STEP,
    ):
        self.needs = dict(needs)
        self.fine_seconds = fine_seconds
        self.coarse_step = coarse_step
        self._by_metric: dict[str, list[Input]] = {}
        for inp in self.needs:
            self._by_metric.setdefault(inp.selector.metric, []).append(inp)
        self._series: dict[Input, dict[Labels, _Series]] = {inp: {} for inp in self.needs}
        self._totals: dict[Input, dict[Labels, float]] = {inp: {} for inp in self.needs}
        self._last_raw: dict[tuple[Input, Labels], float] = {}
        self._lock = threading.Lock()

    @property
    def metrics(self) -> frozenset[str]:
        return frozenset(self._by_metric)

    def record(self, at: float, samples: Iterable[Sample]) -> None:
        """Add one scrape's samples, taken at ``at`` (unix seconds)."""
        # Under the lock as a whole, so a snapshot never sees a total ahead of its series.
        with self._lock:
            self._record(at, samples)

    def _record(self, at: float, samples: Iterable[Sample]) -> None:
        gauges: dict[Input, dict[Labels, list[float]]] = {}
        touched: dict[Input, set[Labels]] = {}
        for name, labels, value in samples:
            for inp in self._by_metric.get(name, ()):
                if not inp.selector.matches(labels):
                    continue
                key = key_of(labels, inp.by)
                if inp.kind == "gauge":
                    gauges.setdefault(inp, {}).setdefault(key, []).append(value)
                    continue
                raw = (inp, tuple(sorted(labels.items())))
                previous = self._last_raw.get(raw)
                self._last_raw[raw] = value
                delta = 0.0 if previous is None else (value - previous if value >= previous else value)
                totals = self._totals[inp]
                totals[key] = totals.get(key, 0.0) + delta
                touched.setdefault(inp, set()).add(key)
        for inp, keys in touched.items():
            for key in keys:
                self._append(inp, key, at, self._totals[inp][key])
        for inp, groups in gauges.items():
            for key, values in groups.items():
                self._append(inp, key, at, _aggregate(inp.agg, values))
        self._trim(at)

    def _append(self, inp: Input, key: Labels, at: float, value: float) -> None:
        series = self._series[inp].setdefault(key, _Series())
        series.fine.append((at, value))

    def _trim(self, now: float) -> None:
        for inp, groups in self._series.items():
            keep = self.needs[inp] + self.coarse_step * 2
            for series in groups.values():
                while series.fine and series.fine[0][0] < now - self.fine_seconds:
                    point = series.fine.popleft()
                    if not series.coarse or point[0] - series.coarse[-1][0] >= self.coarse_step:
                        series.coarse.append(point)
                while series.coarse and series.coarse[0][0] < now - keep:
                    series.coarse.popleft()
                while series.fine and series.fine[0][0] < now - keep:
                    series.fine.popleft()

    def window(self, inp: Input, start: float, end: float) -> dict[Labels, list[tuple[float, float]]]:
        """Points of each group of ``inp`` with ``start <= t <= end`` (Prometheus 2's
        range selectors include both ends)."""
        out: dict[Labels, list[tuple[float, float]]] = {}
        with self._lock:
            for key, series in self._series.get(inp, {}).items():
                points = [p for part in (series.coarse, series.fine) for p in part if start <= p[0] <= end]
                if points:
                    out[key] = points
        return out

    # ---- snapshots (leadwatch.store.snapshots) ----

    def dump(self) -> Snapshot:
        """Every group's points (coarse, then fine), running total and raw series, with
        the points packed in two arrays: times and values."""
        times: array[float] = array("d")
        values: array[float] = array("d")
        inputs: list[dict[str, Any]] = []
        with self._lock:
            raw_by_input: dict[Input, list[Labels]] = {}
            for inp, labels in self._last_raw:
                raw_by_input.setdefault(inp, []).append(labels)
            for inp, groups in self._series.items():
                entries = []
                for key, series in groups.items():
                    for part in (series.coarse, series.fine):
                        times.extend(t for t, _ in part)
                        values.extend(v for _, v in part)
                    entries.append([key, len(series.coarse), len(series.fine), self._totals[inp].get(key, 0.0)])
                raw = raw_by_input.get(inp, [])
                if entries or raw:
                    inputs.append({"input": input_id(inp), "groups": entries, "raw": raw})
        return Snapshot({"inputs": inputs}, [times, values])

    def restore(self, snapshot: Snapshot, now: float) -> int:
        """Take a dumped history as this one's, trimmed to what is kept at ``now``.

        Across the restart, counters keep their meaning: each group's running total
        goes on from the stored one (the increase before the restart is kept), the
        downtime adds nothing (no samples, so no increase), and each raw series the
        previous process had starts again from 0, as this new process's counters do,
        so its first sample counts in full, like a counter reset in Prometheus.
        Groups of inputs this catalogue no longer reads are dropped; returns how many."""
        by_id = {input_id(inp): inp for inp in self.needs}
        series: dict[Input, dict[Labels, _Series]] = {inp: {} for inp in self.needs}
        totals: dict[Input, dict[Labels, float]] = {inp: {} for inp in self.needs}
        last_raw: dict[tuple[Input, Labels], float] = {}
        times, values = snapshot.arrays
        if len(times) != len(values):
            raise ValueError("times and values differ in length")
        offset, dropped = 0, 0
        for entry in snapshot.meta["inputs"]:
            inp = by_id.get(entry["input"])
            if inp is None:
                dropped += max(1, len(entry["groups"]))
            for labels, n_coarse, n_fine, total in entry["groups"]:
                n_coarse, n_fine = int(n_coarse), int(n_fine)
                end = offset + n_coarse + n_fine
                if end > len(times):
                    raise ValueError("fewer points than the groups list")
                if inp is not None:
                    key = _labels(labels)
                    points = list(zip(times[offset:end], values[offset:end], strict=True))
                    kept = series[inp][key] = _Series()
                    kept.coarse.extend(points[:n_coarse])
                    kept.fine.extend(points[n_coarse:])
                    if inp.kind == "counter":
                        totals[inp][key] = float(total)
                offset = end
            if inp is not None:
                last_raw.update(((inp, _labels(labels)), 0.0) for labels in entry["raw"])
        if offset != len(times):
            raise ValueError("more points than the groups list")
        with self._lock:
            self._series, self._totals, self._last_raw = series, totals, last_raw
            self._trim(now)
        return dropped

    def size(self) -> int:
        """Points held, for the bench and the evaluator's gauge."""
        with self._lock:
            return sum(len(s.fine) + len(s.coarse) for g in self._series.values() for s in g.values())


def input_id(inp: Input) -> str:
    """A stable name of an input, for snapshots: the same catalogue entry gives the same
    name in every process and version that reads it the same way."""
    return f"{inp.kind}:{inp.agg}:{inp.selector.promql()} by ({','.join(inp.by)})"


def _labels(pairs: Iterable[Iterable[str]]) -> Labels:
    return tuple((str(k), str(v)) for k, v in pairs)


def _aggregate(agg: str, values: list[float]) -> float:
    if agg == "max":
        return max(values)
    if agg == "min":
        return min(values)
    if agg == "avg":
        return sum(values) / len(values)
    return sum(values)


def registry_samples(registry: Any, wanted: frozenset[str]) -> list[Sample]:
    """The current samples of the metrics named in ``wanted`` from a prometheus_client
    registry (histograms contribute their ``_bucket``/``_count``/``_sum`` samples)."""
    out: list[Sample] = []
    for family in registry.collect():
        for sample in family.samples:
            if sample.name in wanted:
                out.append((sample.name, sample.labels, float(sample.value)))
    return out
