"""Request rate, errors and latency of leadwatch itself, from the sampled history.

Rates are differences of counters between two samples over the seconds between
them; latency percentiles come from the differences of histogram buckets, with
Prometheus's ``histogram_quantile`` interpolation, so they read the same as the
Grafana panels built on the same metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from leadwatch.dashboards.sampler import MetricsHistory, Sample

REQUESTS = "leadwatch_http_requests_total"
BUCKETS = "leadwatch_http_request_duration_seconds_bucket"
BUFFER_DEPTH = "leadwatch_write_buffer_depth"
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """The q-quantile of cumulative ``(upper bound, count)`` buckets (``inf`` last),
    interpolated linearly within its bucket; None without observations. A quantile
    in the ``+Inf`` bucket reads as the highest finite bound, as in Prometheus."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank and count > below:
            if math.isinf(upper):
                return lower
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


@dataclass(frozen=True)
class Window:
    """What happened between two samples."""

    start: float
    end: float
    requests: float
    client_errors: float
    server_errors: float
    quantiles: dict[float, float | None]

    @property
    def rate(self) -> float:
        return self.requests / (self.end - self.start) if self.end > self.start else 0.0

    @property
    def error_rate(self) -> float | None:
        """Share of requests answered with a 5xx (a 4xx is the client's mistake)."""
        return self.server_errors / self.requests if self.requests else None


def window(history: MetricsHistory, first: Sample, last: Sample, route: str | None = None) -> Window:
    requests = client = server = 0.0
    for key in history.keys(REQUESTS):
        key_route, status = key[1]
        if route is not None and key_route != route:
            continue
        delta = history.value(last, key) - history.value(first, key)
        requests += delta
        if status.startswith("4"):
            client += delta
        elif status.startswith("5"):
            server += delta
    cumulative: dict[float, float] = {}
    for key in history.keys(BUCKETS):
        key_route, le = key[1]
        if route is None or key_route == route:
            delta = history.value(last, key) - history.value(first, key)
            cumulative[float(le)] = cumulative.get(float(le), 0.0) + delta
    buckets = list(cumulative.items())
    return Window(
        first.ts, last.ts, requests, client, server,
        {q: histogram_quantile(q, buckets) for q in QUANTILES},
    )


def routes(history: MetricsHistory, first: Sample, last: Sample) -> list[tuple[str, Window]]:
    """Per route template with requests in the window, busiest first."""
    names = sorted({key[1][0] for key in history.keys(REQUESTS)})
    windows = [(name, window(history, first, last, name)) for name in names]
    return sorted(
        ((n, w) for n, w in windows if w.requests > 0), key=lambda item: (-item[1].requests, item[0])
    )


def downsample(samples: list[Sample], start: float, width: float) -> list[Sample]:
    """The last sample of each ``width``-second slot from ``start``, plus the very first
    sample as the baseline the first slot is measured from."""
    if not samples:
        return []
    kept: dict[int, Sample] = {}
    for sample in samples[1:]:
        kept[int((sample.ts - start) // width)] = sample
    return [samples[0], *kept.values()]


def buffer_depth(history: MetricsHistory, sample: Sample) -> float:
    return sum(history.value(sample, key) for key in history.keys(BUFFER_DEPTH))
