"""The Technical Operations page's samples across a restart: loaded from a snapshot
they read as before, counters go on from where the last process stopped (a window
across the restart counts each request once), and samples past history_hours go."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from leadwatch.dashboards.queries import selfmetrics
from leadwatch.dashboards.sampler import MetricsHistory
from leadwatch.metrics import Metrics
from leadwatch.store.snapshots import Snapshot, decode, encode
from tests.dashboards.test_sampler import Clock

REQUESTS = "leadwatch_http_requests_total"
T0 = 1_800_000_000.0


def restarted(history: MetricsHistory, metrics: Metrics, clock: Clock) -> MetricsHistory:
    """A new process's history (its own registry, counters from 0) after loading the
    snapshot file of ``history``."""
    fresh = MetricsHistory(metrics.registry, history.disk_path, interval=history.interval,
                           history_seconds=history.history_seconds, clock=clock)
    data = encode("dashboards", MetricsHistory.snapshot_version, history.dump())
    assert fresh.restore(decode(data, "dashboards", MetricsHistory.snapshot_version), clock()) == 0
    return fresh


@settings(max_examples=30, deadline=None)
@given(st.lists(st.lists(st.tuples(st.sampled_from(["/", "/contact", "/api/leads"]),
                                   st.sampled_from(["200", "404", "500"]), st.integers(1, 5)), max_size=4),
                min_size=1, max_size=12))
def test_a_loaded_snapshot_reads_as_the_original(steps: list[list[tuple[str, str, int]]]) -> None:
    metrics, clock = Metrics(), Clock(T0)
    original = MetricsHistory(metrics.registry, Path("/"), interval=15, history_seconds=120, clock=clock)
    for i, requests in enumerate(steps):
        clock.now += 15 if i else 0
        for route, status, count in requests:
            metrics.http_requests.labels("GET", route, status).inc(count)
            metrics.http_duration.labels("GET", route).observe(0.01 * count)
        original.record()
    loaded = restarted(original, Metrics(), clock)  # loaded when the last sample was taken
    old = original.between(0, clock.now)[:-1]  # without the live sample
    new = loaded.between(0, clock.now)[:-1]
    assert [(s.ts, s.host) for s in new] == [(s.ts, s.host) for s in old]
    assert len(old) == min(len(steps), 9)  # 120 s at 15 s, plus one
    for name in (REQUESTS, selfmetrics.BUCKETS):
        assert loaded.keys(name) == original.keys(name)
        for key in original.keys(name):
            assert [loaded.value(s, key) for s in new] == [original.value(s, key) for s in old]
    assert selfmetrics.window(loaded, new[0], new[-1]) == selfmetrics.window(original, old[0], old[-1])


def test_counters_go_on_across_a_restart_and_the_downtime_adds_nothing(tmp_path: Path) -> None:
    metrics, clock = Metrics(), Clock(T0)
    before = MetricsHistory(metrics.registry, tmp_path, interval=15, history_seconds=3600, clock=clock)
    metrics.http_requests.labels("GET", "/", "200").inc(5)
    metrics.http_requests.labels("GET", "/contact", "500").inc(2)
    first = before.record()
    metrics.http_requests.labels("GET", "/", "200").inc(3)
    before.record()

    clock.now += 600  # ten minutes down
    metrics = Metrics()  # the new process: its counters start from 0
    after = restarted(before, metrics, clock)
    rebooted = after.record()  # before any request: / and /contact read as they were
    assert selfmetrics.window(after, first, rebooted).requests == 3
    metrics.http_requests.labels("GET", "/", "200").inc(4)
    clock.now += 15
    last = after.record()

    whole = selfmetrics.window(after, first, last)
    assert (whole.requests, whole.server_errors) == (7, 0)  # 3 before the restart, 4 after
    contact = ("leadwatch_http_requests_total", ("/contact", "500"))
    assert after.value(last, contact) == 2  # carried, although this process has no such series
    assert [r for r, _ in selfmetrics.routes(after, first, last)] == ["/"]  # nothing negative


def test_samples_older_than_history_hours_are_dropped_on_load(tmp_path: Path) -> None:
    metrics, clock = Metrics(), Clock(T0)
    history = MetricsHistory(metrics.registry, tmp_path, interval=60, history_seconds=3600, clock=clock)
    for _ in range(60):
        history.record()
        clock.now += 60
    clock.now += 1800  # down for half an hour
    loaded = restarted(history, Metrics(), clock)
    assert loaded.oldest == clock.now - 3600  # the newest half hour of samples is left
    assert len(loaded.between(0, clock.now - 1)) == 30 + 1  # 30 stored, plus the live one


def test_keys_of_metrics_watched_with_other_labels_are_dropped(tmp_path: Path) -> None:
    metrics = Metrics()
    history = MetricsHistory(metrics.registry, tmp_path, interval=15, history_seconds=3600)
    metrics.http_requests.labels("GET", "/", "200").inc(2)
    history.record()
    dumped = history.dump()
    # As an older leadwatch that kept the requests by status only would have written it.
    keys = [[name, ["200"]] if name == REQUESTS else [name, values] for name, values in dumped.meta["keys"]]
    watched = {**dumped.meta["watched"], REQUESTS: ["status"]}
    older = Snapshot({"watched": watched, "keys": keys}, dumped.arrays)
    fresh = MetricsHistory(Metrics().registry, tmp_path, interval=15, history_seconds=3600)
    dropped = fresh.restore(older, history.oldest or 0)
    assert dropped == sum(1 for name, _ in keys if name == REQUESTS) == 1
    assert fresh.keys(REQUESTS) == []
    assert fresh.keys(selfmetrics.BUCKETS) == history.keys(selfmetrics.BUCKETS)
