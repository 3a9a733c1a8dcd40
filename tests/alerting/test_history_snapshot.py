"""The evaluator's history across a restart: snapshotted and loaded into a fresh
History it evaluates as the original did, counters go on (a reset, not a drop, and
nothing counted twice) and old points are dropped. The alert states saved with it:
test_state_restore.py."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from leadwatch.alerting.catalogue import Catalogue, load_catalogue
from leadwatch.alerting.expr import Context, Selector, SumRate, Vector, retention
from leadwatch.alerting.history import History, Sample
from leadwatch.alerting.slo import report
from leadwatch.settings import load_settings
from leadwatch.store.snapshots import decode, encode

CATALOGUE: Catalogue = load_catalogue(load_settings(None).alerting)
NEEDS = retention([a.expr for a in CATALOGUE.alerts]
                  + [s.error_ratio(86_400 * s.period_days) for s in CATALOGUE.slos])
REQUESTS = "leadwatch_http_requests_total"
TOTAL = Selector.parse('leadwatch_http_requests_total{route!~"/metrics|/health|/ready"}')
ERRORS = Selector.parse('leadwatch_http_requests_total{status=~"5..",route!~"/metrics|/health|/ready"}')


def restarted(history: History, now: float) -> History:
    """What a new process holds after loading ``history``'s snapshot file at ``now``."""
    fresh = History(history.needs)
    data = encode("alerting", History.snapshot_version, history.dump())
    assert fresh.restore(decode(data, "alerting", History.snapshot_version), now) == 0
    return fresh


def requests(route: str, status: str, value: float) -> Sample:
    return (REQUESTS, {"method": "GET", "route": route, "status": status}, value)


def _plain(vector: Vector) -> dict[Any, Any]:
    return {k: "nan" if math.isnan(v) else v for k, v in vector.items()}


# One scrape: seconds since the previous one, then per raw series an increment (or a
# reset to a small value), and the probes' 0/1.
SERIES = [("/", "200"), ("/", "500"), ("/contact", "200"), ("/contact", "503"), ("/health", "200")]
scrapes = st.lists(
    st.tuples(
        st.integers(1, 1800),
        st.lists(st.one_of(st.integers(0, 50).map(float), st.just(-1.0)), min_size=len(SERIES), max_size=len(SERIES)),
        st.lists(st.sampled_from([0.0, 1.0]), min_size=2, max_size=2),
        st.integers(0, 40),
    ),
    min_size=1,
    max_size=40,
)


def feed(history: History, steps: list[tuple[int, list[float], list[float], int]]) -> float:
    t = 1_800_000_000.0
    counters = [0.0] * len(SERIES)
    views = leads = 0.0
    for seconds, bumps, probes, views_bump in steps:
        t += seconds
        counters = [0.0 if b < 0 else c + b for c, b in zip(counters, bumps, strict=True)]  # -1: a reset
        views += views_bump
        leads += views_bump // 20
        samples: list[Sample] = [requests(route, status, c) for (route, status), c in zip(SERIES, counters, strict=True)]
        for route, count in (("/", counters[0] + counters[1]), ("/contact", counters[2] + counters[3])):
            for le, share in (("0.5", 0.9), ("+Inf", 1.0)):
                samples.append((REQUESTS.replace("requests_total", "request_duration_seconds_bucket"),
                                {"method": "GET", "route": route, "le": le}, math.floor(count * share)))
            samples.append((REQUESTS.replace("requests_total", "request_duration_seconds_count"),
                            {"method": "GET", "route": route}, count))
        samples += [("leadwatch_page_views_total", {"channel": "Direct"}, views),
                    ("leadwatch_leads_submitted_total", {"channel": "Direct"}, leads)]
        samples += [("leadwatch_probe_success", {"journey": j, "location": "eu"}, p)
                    for j, p in zip(("homepage", "pricing"), probes, strict=True)]
        samples.append(("up", {"job": "leadwatch", "instance": "embedded"}, 1.0))
        history.record(t, samples)
    return t


@settings(max_examples=60, deadline=None)
@given(scrapes, st.integers(0, 7200))
def test_a_loaded_snapshot_evaluates_as_the_original(steps: list[Any], later: int) -> None:
    original = History(NEEDS)
    end = feed(original, steps)
    loaded = restarted(original, end)
    for inp in NEEDS:
        assert loaded.window(inp, 0, math.inf) == original.window(inp, 0, math.inf)
    at = end + later
    for slo in CATALOGUE.slos:
        assert report(slo, loaded, at) == report(slo, original, at)
        for window in (300, 3600, 6 * 3600, 3 * 86_400):
            expr = slo.recorded(window)
            assert _plain(expr.evaluate(Context(loaded, at))) == _plain(expr.evaluate(Context(original, at)))
    for alert in CATALOGUE.alerts:
        assert _plain(alert.expr.evaluate(Context(loaded, at))) == _plain(alert.expr.evaluate(Context(original, at)))


def test_counters_across_a_restart_read_as_a_reset_and_the_downtime_adds_nothing() -> None:
    before = History(NEEDS)
    for t, ok, failed in ((0.0, 0.0, 0.0), (15.0, 10.0, 1.0), (30.0, 20.0, 2.0)):
        before.record(t, [requests("/", "200", ok), requests("/", "500", failed)])
    after = restarted(before, 1000.0)
    # The new process's counters start from 0: 5 requests came in before its first
    # scrape; its first 5xx only later (the series does not exist before that).
    after.record(1000.0, [requests("/", "200", 5.0)])
    after.record(1015.0, [requests("/", "200", 8.0), requests("/", "500", 1.0)])
    # The same traffic seen by one process that was never restarted (just not scraped).
    steady = History(NEEDS)
    for t, ok, failed in ((0.0, 0.0, 0.0), (15.0, 10.0, 1.0), (30.0, 20.0, 2.0), (1000.0, 25.0, 2.0),
                          (1015.0, 28.0, 3.0)):
        steady.record(t, [requests("/", "200", ok), requests("/", "500", failed)])

    total = SumRate(TOTAL, 0).input
    assert after.window(total, 0, 2000) == steady.window(total, 0, 2000) == {
        (): [(0.0, 0.0), (15.0, 11.0), (30.0, 22.0), (1000.0, 27.0), (1015.0, 31.0)]
    }
    # Errors: the 2 before the restart kept, the new one counted once, none in the gap.
    assert after.window(SumRate(ERRORS, 0).input, 0, 2000) == {(): [(0.0, 0.0), (15.0, 1.0), (30.0, 2.0), (1015.0, 3.0)]}
    for window, at in ((1015.0, 1015.0), (600.0, 1015.0), (1000.0, 1000.0), (985.0, 1015.0)):
        for function in ("rate", "increase"):
            expr = SumRate(TOTAL, window, function=function)  # type: ignore[arg-type]
            assert expr.evaluate(Context(after, at)) == expr.evaluate(Context(steady, at))
    exact = SumRate(TOTAL, 970.0, function="increase")  # [30, 1000]: the gap and the first new scrape
    assert exact.evaluate(Context(after, 1000.0)) == {(): 5.0}  # only what the new process counted
    gap = SumRate(TOTAL, 900.0, function="increase")
    assert gap.evaluate(Context(after, 990.0)) == {}  # no samples in the downtime: no increase


def test_points_older_than_their_look_back_are_dropped_on_load() -> None:
    original = History(NEEDS)
    day = 86_400.0
    t = 0.0
    while t <= 40 * day:
        original.record(t, [requests("/", "200", t / 10), ("up", {"job": "leadwatch"}, 1.0)])
        t += 3600.0
    end = t - 3600.0
    loaded = restarted(original, end + 3600.0)  # down for an hour
    month = SumRate(TOTAL, 0).input
    kept = loaded.window(month, 0, math.inf)[()]
    assert NEEDS[month] == 30 * day
    assert kept[0][0] >= end + 3600.0 - 30 * day - 600  # the look-back, plus two coarse steps
    assert kept == [p for p in original.window(month, 0, math.inf)[()] if p[0] >= kept[0][0]]
    assert len(kept) >= 30 * 24
    up = next(inp for inp in NEEDS if inp.selector.metric == "up")
    assert NEEDS[up] == 300 and loaded.window(up, 0, math.inf) == {}  # a 5-minute look-back: all gone


def test_groups_of_inputs_the_catalogue_no_longer_reads_are_dropped_and_counted() -> None:
    wider = {**NEEDS, SumRate(Selector.parse('leadwatch_http_requests_total{route="/gone"}'), 300).input: 300.0}
    old = History(wider)
    old.record(0.0, [requests("/gone", "200", 1.0), requests("/", "200", 1.0)])
    old.record(15.0, [requests("/gone", "200", 2.0), requests("/", "200", 2.0)])
    fresh = History(NEEDS)
    assert fresh.restore(old.dump(), 20.0) == 1
    total = SumRate(TOTAL, 0).input
    assert fresh.window(total, 0, 20) == old.window(total, 0, 20)
