"""Rate detectors, driven by generated request streams and a hand-moved clock: at,
just under and just over each threshold."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.security.detect import Threat
from leadwatch.security.detectors import Observed, RateDetectors
from leadwatch.security.rates import DistinctWindow, SlidingWindow, TokenBucket
from leadwatch.settings import SecuritySettings


class Clock:
    def __init__(self, t: float = 1_800_000_000.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@given(st.integers(1, 50), st.integers(0, 120))
def test_sliding_window_is_over_only_above_the_threshold(threshold: int, hits: int) -> None:
    window = SlidingWindow(threshold, 60.0, Clock())
    results = [window.hit("ip", at=float(i) * 0.1) is not None for i in range(hits)]
    assert results == [i + 1 > threshold for i in range(hits)]


def test_sliding_window_forgets_old_hits() -> None:
    window = SlidingWindow(3, 10.0)
    assert not any(window.hit("ip", at=t) for t in (0, 1, 2))
    assert window.hit("ip", at=9.9) == (0, 9.9)  # 4 within 10 s
    assert window.hit("other", at=9.9) is None
    assert window.hit("ip", at=30) is None  # only 1 of the last 4 within 10 s


def over_anywhere(times: list[float], threshold: int, window: float) -> bool:
    """The definition: some threshold + 1 hits lie within one window."""
    ordered = sorted(times)
    return any(ordered[i + threshold] - ordered[i] < window for i in range(len(ordered) - threshold))


@given(st.integers(1, 8), st.lists(st.floats(0, 100, allow_nan=False), max_size=40), st.randoms())
def test_sliding_window_counts_late_hits_where_they_belong(
    threshold: int, times: list[float], rng: Any
) -> None:
    """Shuffled a little (each hit at most one window late, as a server's log is),
    the hits are over the threshold exactly when they are over it in time order."""
    window = 10.0
    late = sorted(times, key=lambda t: t + rng.uniform(0, window * 0.99))
    counter = SlidingWindow(threshold, window)
    runs = [run for t in late if (run := counter.hit("ip", at=t))]
    assert bool(runs) == over_anywhere(times, threshold, window)
    for first, last in runs:
        assert 0 <= last - first < window
        assert sum(first <= t <= last for t in times) > threshold


def test_an_older_log_read_after_a_newer_one_is_a_timeline_of_its_own() -> None:
    window = SlidingWindow(3, 60.0)
    assert [window.hit("ip", at=t) for t in (86_000, 86_010, 86_020)] == [None] * 3  # late in the day
    assert [window.hit("ip", at=t) for t in (0, 10, 20)] == [None] * 3  # not six within 60 s
    assert window.hit("ip", at=30) == (0, 30)  # but four early ones are


def test_keys_are_bounded() -> None:
    window = SlidingWindow(1, 10.0, max_keys=100)
    for i in range(1000):
        window.hit(f"10.0.{i // 256}.{i % 256}", at=0)
    assert len(window) == 100


def test_distinct_window_counts_distinct_values() -> None:
    seen = DistinctWindow(2, 60.0)
    assert seen.add("ip", "alice", at=0) is None
    assert seen.add("ip", "alice", at=1) is None
    assert seen.add("ip", "bob", at=2) is None
    assert seen.add("ip", "carol", at=3) == (1, 3)
    assert seen.add("ip", "dave", at=200) is None  # the others fell out of the window


def test_distinct_window_takes_late_values_and_older_timelines() -> None:
    seen = DistinctWindow(2, 60.0)
    assert [seen.add("ip", name, at=t) for name, t in (("alice", 50), ("bob", 40))] == [None, None]
    assert seen.add("ip", "carol", at=45) == (40, 50)  # late, but within the window
    assert seen.add("ip", "dave", at=-1000) is None  # an older log: the others are not near


def test_token_bucket_refills_and_says_how_long_to_wait() -> None:
    clock = Clock(0)
    bucket = TokenBucket(rate=2.0, capacity=3, clock=clock)
    assert [bucket.take("ip") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("ip") == pytest.approx(0.5)
    clock.t = 0.5
    assert bucket.take("ip") == 0.0
    assert bucket.take("other") == 0.0


def settings(**overrides: Any) -> SecuritySettings:
    return SecuritySettings(**overrides)


def stream(detectors: RateDetectors, n: int, *, spacing: float, **request: Any) -> list[Any]:
    found = []
    for i in range(n):
        base = {"site_id": "default", "ip": "203.0.113.7", "method": "GET", "path": "/", "status": 200}
        found += detectors.observe(Observed(at=1_800_000_000.0 + i * spacing, **{**base, **request}))
    return found


@pytest.mark.parametrize(("failures", "detected"), [(19, False), (20, False), (21, True)])
def test_brute_force_is_more_than_20_failed_logins_in_5_minutes(failures: int, detected: bool) -> None:
    detectors = RateDetectors(settings())
    found = stream(detectors, failures, spacing=299 / 21, method="POST", path="/api/v1/session", status=401)
    assert [d.threat for d in found] == ([Threat.BRUTE_FORCE] if detected else [])


def test_slow_failures_are_not_brute_force() -> None:
    detectors = RateDetectors(settings())
    assert stream(detectors, 60, spacing=16.0, method="POST", path="/api/v1/session", status=401) == []


def test_successful_logins_and_other_routes_do_not_count() -> None:
    detectors = RateDetectors(settings(failed_login_routes=["POST /login"]))
    assert stream(detectors, 50, spacing=1, method="POST", path="/login", status=200) == []
    assert stream(detectors, 50, spacing=1, method="POST", path="/api/v1/session", status=401) == []
    found = stream(detectors, 21, spacing=1, method="POST", path="/login", status=403)
    assert [d.threat for d in found] == [Threat.BRUTE_FORCE]


@pytest.mark.parametrize(("requests", "detected"), [(999, False), (1000, False), (1001, True)])
def test_flood_is_more_than_1000_requests_a_minute(requests: int, detected: bool) -> None:
    detectors = RateDetectors(settings())
    found = stream(detectors, requests, spacing=59.0 / 1001)
    assert [d.threat for d in found] == ([Threat.FLOOD] if detected else [])


def test_a_detection_fires_once_per_window_and_carries_the_first_hit() -> None:
    detectors = RateDetectors(settings(flood_requests_per_minute=10))
    found = stream(detectors, 100, spacing=0.1)
    assert len(found) == 1
    flood = found[0]
    assert flood.count == 11 and (flood.at - flood.first_seen).total_seconds() == pytest.approx(1.0)
    found = stream(detectors, 100, spacing=0.1)  # the same times again: still quiet
    assert found == []


@pytest.mark.parametrize(("probes", "detected"), [(20, False), (21, True)])
def test_probing_counts_probes_and_not_found(probes: int, detected: bool) -> None:
    detectors = RateDetectors(settings())
    half = probes // 2
    found = stream(detectors, half, spacing=1, path="/.env", probe=True)
    found += stream(detectors, probes - half, spacing=1, path="/nope", status=404)
    assert [d.threat for d in found] == ([Threat.PROBING] if detected else [])


@pytest.mark.parametrize(("posts", "detected"), [(10, False), (11, True)])
def test_form_spam_bursts(posts: int, detected: bool) -> None:
    detectors = RateDetectors(settings())
    found = stream(detectors, posts, spacing=30, method="POST", path="/api/leads", status=202)
    assert [d.threat for d in found] == ([Threat.FORM_SPAM] if detected else [])


@pytest.mark.parametrize(("names", "detected"), [(10, False), (11, True)])
def test_credential_stuffing_is_many_usernames_from_one_address(names: int, detected: bool) -> None:
    clock = Clock()
    detectors = RateDetectors(settings(), clock=clock)
    found = []
    for i in range(names):
        clock.t += 30
        found += detectors.login_failure("default", "198.51.100.4", f"user{i}@example.com")
        found += detectors.login_failure("default", "198.51.100.4", f"USER{i}@example.com")  # same name
    assert [d.threat for d in found] == ([Threat.CREDENTIAL_STUFFING] if detected else [])


def test_sites_and_addresses_are_counted_apart() -> None:
    detectors = RateDetectors(settings(flood_requests_per_minute=5))
    assert stream(detectors, 5, spacing=1, ip="203.0.113.1") == []
    assert stream(detectors, 5, spacing=1, ip="203.0.113.2") == []
    assert stream(detectors, 5, spacing=1, ip="203.0.113.1", site_id="other") == []


def test_two_servers_logs_read_one_after_the_other_each_show_their_attack() -> None:
    """Server A's log (a brute force late in the day) is read before server B's (one
    early that day): both are found, and A's failures do not make B's first one over."""
    detectors = RateDetectors(settings())
    login = {"method": "POST", "path": "/api/v1/session", "status": 401}
    day = 1_800_000_000.0

    def failed_at(t: float) -> list[Any]:
        return detectors.observe(Observed("default", "203.0.113.7", at=t, **login))

    found_a = [d for i in range(21) for d in failed_at(day + 80_000 + i)]
    assert [d.threat for d in found_a] == [Threat.BRUTE_FORCE]
    assert failed_at(day) == []
    found_b = [d for i in range(1, 21) for d in failed_at(day + i)]
    assert [(d.threat, d.first_seen.replace(tzinfo=UTC).timestamp()) for d in found_b] == [
        (Threat.BRUTE_FORCE, day)
    ]
