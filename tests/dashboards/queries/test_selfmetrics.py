"""Rates, error shares and histogram quantiles computed from the sampled metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadwatch.dashboards.queries.selfmetrics import downsample, histogram_quantile, routes, window
from leadwatch.dashboards.sampler import MetricsHistory
from leadwatch.metrics import Metrics
from tests.dashboards.test_sampler import Clock

INF = float("inf")


@pytest.mark.parametrize(("q", "expected"), [
    (0.5, 0.1), (0.6, 0.2), (0.9, 0.5), (0.95, 0.5), (0.25, 0.05),
])
def test_histogram_quantile_interpolates_like_prometheus(q: float, expected: float) -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (INF, 100.0)]
    assert histogram_quantile(q, buckets) == pytest.approx(expected)


def test_histogram_quantile_without_observations_is_none() -> None:
    assert histogram_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None
    assert histogram_quantile(0.5, []) is None


def test_window_counts_requests_errors_and_latency_between_two_samples(tmp_path: Path) -> None:
    metrics, clock = Metrics(), Clock()
    history = MetricsHistory(metrics.registry, tmp_path, interval=15, history_seconds=3600, clock=clock)
    metrics.http_requests.labels("GET", "/a", "200").inc(1000)  # before the window: not counted
    first = history.record()
    for route, status, n, seconds in (("/a", "200", 90, 0.02), ("/a", "500", 10, 0.7),
                                      ("/b", "404", 20, 0.004)):
        metrics.http_requests.labels("GET", route, status).inc(n)
        for _ in range(n):
            metrics.http_duration.labels("GET", route).observe(seconds)
    clock.now += 60
    last = history.record()

    overall = window(history, first, last)
    assert (overall.requests, overall.server_errors, overall.client_errors) == (120, 10, 20)
    assert overall.rate == pytest.approx(2.0)
    assert overall.error_rate == pytest.approx(10 / 120)
    # 20 at <= 5 ms, 90 in (10 ms, 25 ms], 10 in (0.5 s, 1 s]: the median is in (10, 25] ms.
    assert overall.quantiles[0.5] == pytest.approx(0.01 + 0.015 * (60 - 20) / 90)
    assert overall.quantiles[0.99] == pytest.approx(0.5 + 0.5 * (118.8 - 110) / 10)

    by_route = dict(routes(history, first, last))
    assert list(by_route) == ["/a", "/b"]  # busiest first
    assert by_route["/a"].error_rate == pytest.approx(0.1)
    assert by_route["/b"].error_rate == 0 and by_route["/b"].client_errors == 20


def test_downsample_keeps_the_baseline_and_the_last_sample_per_slot(tmp_path: Path) -> None:
    clock = Clock(0.0)
    history = MetricsHistory(Metrics().registry, tmp_path, interval=10, history_seconds=3600, clock=clock)
    samples = []
    for _ in range(13):
        samples.append(history.record())
        clock.now += 10
    kept = downsample(samples, 0.0, 60)
    assert [s.ts for s in kept] == [0.0, 50.0, 110.0, 120.0]
