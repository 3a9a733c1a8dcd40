"""The embedded evaluator's memory of the metrics: a small time-series store that keeps
only the series groups the catalogue reads (see :class:`~leadwatch.alerting.expr.Input`).

Counters are kept as the running sum of their *increases* per group: every raw
series contributes the difference from its previous sample (its value after a
reset; nothing on its first sample, as Prometheus' ``rate`` ignores a series'
first sample). Gauges keep the group's aggregate at each sample. Points younger
than ``fine_seconds`` are kept at full resolution, older ones one per
``coarse_step`` seconds, until the longest look-back an expression needs.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Any

from leadwatch.alerting.expr import Input, Labels, key_of

Sample = tuple[str, Mapping[str, str], float]  # metric name, labels, value

FINE_SECONDS = 2 * 3600.0
COARSE_STEP = 300.0


class _Series:
    __slots__ = ("coarse", "fine")

    def __init__(self) -> None:
        self.fine: deque[tuple[float, float]] = deque()
        self.coarse: deque[tuple[float, float]] = deque()


class History:
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
        with self._lock:
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

    def size(self) -> int:
        """Points held, for the bench and the evaluator's gauge."""
        with self._lock:
            return sum(len(s.fine) + len(s.coarse) for g in self._series.values() for s in g.values())


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
