"""The in-process metrics history: what it keeps, for how long, and what it reads."""

from __future__ import annotations

from pathlib import Path

from leadwatch.dashboards.sampler import MetricsHistory
from leadwatch.metrics import Metrics


class Clock:
    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_keeps_history_hours_of_samples_and_adds_a_live_one(tmp_path: Path) -> None:
    clock = Clock()
    history = MetricsHistory(Metrics().registry, tmp_path, interval=10, history_seconds=60, clock=clock)
    for _ in range(10):
        history.record()
        clock.now += 10
    assert history.oldest == 1_000_030.0  # 7 samples (60 s / 10 s + 1) remain
    past = history.between(1_000_040.0, 1_000_070.0)
    assert [s.ts for s in past] == [1_000_040.0, 1_000_050.0, 1_000_060.0, 1_000_070.0]
    live = history.between(1_000_080.0, clock.now)
    assert [s.ts for s in live] == [1_000_080.0, 1_000_090.0, clock.now]  # the last is live


def test_series_that_appear_later_read_zero_in_older_samples(tmp_path: Path) -> None:
    metrics = Metrics()
    history = MetricsHistory(metrics.registry, tmp_path, interval=10, history_seconds=60)
    before = history.record()
    metrics.http_requests.labels("GET", "/x", "200").inc(3)
    metrics.http_requests.labels("POST", "/x", "200").inc(2)  # methods are summed
    after = history.record()
    key = ("leadwatch_http_requests_total", ("/x", "200"))
    assert history.value(before, key) == 0 and history.value(after, key) == 5


def test_host_figures_are_percentages(tmp_path: Path) -> None:
    host = MetricsHistory(Metrics().registry, tmp_path, interval=10, history_seconds=60).snapshot().host
    for value in (host.cpu_percent, host.memory_percent, host.disk_percent):
        assert 0 <= value <= 100
    assert host.net_recv_bytes >= 0


def test_the_service_samples_until_closed(tmp_path: Path) -> None:
    history = MetricsHistory(Metrics().registry, tmp_path, interval=1, history_seconds=60)
    history.start()
    try:
        assert history.oldest is not None  # start() records the first sample at once
    finally:
        history.close()
