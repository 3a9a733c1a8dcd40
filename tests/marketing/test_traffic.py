"""Traffic added up from UTC days (rollup for closed days, live for the rest): exactly
a reference count of distinct (day, key) pairs, on DuckDB and PostgreSQL, however
the range cuts the days, and still after late writes and deletions."""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from leadwatch.marketing import analytics, rollup, traffic
from leadwatch.marketing.analytics import Scope
from leadwatch.store.events import EventStore
from leadwatch.store.schema import ANALYTICS_DAYS, EVENTS, Event

T0 = datetime(2026, 3, 2)  # a Monday, long closed
SPAN = 3 * 86_400
SITES = itertools.count()

events_strategy = st.lists(
    st.tuples(
        st.integers(0, SPAN - 1),  # seconds after T0
        st.sampled_from(["pageview", "pageview", "pageview", "form_submit", "vital"]),
        st.sampled_from(["v1", "v2", "v3", None]),  # keys reused across days
        st.sampled_from(["s1", "s2", "s3", "s4"]),
        st.sampled_from(["Direct", "Email", None]),
        st.sampled_from(["mobile", "desktop"]),
        st.sampled_from(["/", "/pricing"]),
        st.booleans(),  # entry page view
    ),
    max_size=40,
)


def write(store: EventStore, site: str, rows: list[tuple[Any, ...]]) -> None:
    store.write_batch(EVENTS, [
        Event(site, T0 + timedelta(seconds=s), kind, visitor_id=v, session_id=sess, channel=ch, device=dev,
              path=path, props={"entry": True} if entry else None).row()
        for s, kind, v, sess, ch, dev, path, entry in rows
    ])


def reference(rows: list[tuple[Any, ...]], scope: Scope) -> dict[str, Any]:
    """Distinct (day, key) pairs counted in Python, straight from the rows."""
    wanted = dict(scope.filters)
    sets: dict[tuple[str, Any], list[Any]] = defaultdict(lambda: [0, set(), set(), set()])
    for s, kind, v, sess, ch, dev, path, entry in rows:
        ts = T0 + timedelta(seconds=s)
        if not scope.start <= ts < scope.end or any({"device": dev, "channel": ch}[k] != x for k, x in wanted.items()):
            continue
        day = ts.replace(hour=0, minute=0, second=0)
        if kind == "form_submit":
            sets["device", dev][3].add((day, sess))
        if kind != "pageview":
            continue
        week = traffic.bucket_start(day, 7 * 86_400)
        labels = [("total", None), ("channel", ch), ("device", dev), ("hour", ts.hour),
                  ("h", ts.replace(minute=0, second=0)), ("d", day), ("w", week)]
        if entry:
            labels.append(("landing", path))
        for label in labels:
            sets[label][0] += 1
            if v is not None:
                sets[label][1].add((day, v))
            sets[label][2].add((day, sess))
    return {k: (n, len(vs), len(ss), len(subs)) for k, (n, vs, ss, subs) in sets.items()}


def check(got: traffic.Traffic, want: dict[str, Any]) -> None:
    def table(dimension: str) -> dict[Any, tuple[int, int, int, int]]:
        return {k: c for (d, k), c in want.items() if d == dimension}

    total = want.get(("total", None), (0, 0, 0, 0))
    assert got.totals() == {"pageviews": total[0], "visitors": total[1], "sessions": total[2]}
    for dimension in ("channel", "device", "hour", "landing"):
        by = {k: r for k, r in got.by(dimension).items() if r["pageviews"]}
        assert {k: (r["pageviews"], r["visitors"], r["sessions"]) for k, r in by.items()} == {
            k: c[:3] for k, c in table(dimension).items() if c[0]}, dimension
    submits = {k: r["submitters"] for k, r in got.by("device").items() if r["submitters"]}
    assert submits == {k: c[3] for k, c in table("device").items() if c[3]}
    for seconds, name in ((3600, "h"), (86_400, "d"), (7 * 86_400, "w")):
        assert [(r["bucket"], r["pageviews"], r["visitors"], r["sessions"]) for r in got.series(seconds)] == [
            (b, *c[:3]) for b, c in sorted(table(name).items())], name


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    rows=events_strategy,
    start=st.integers(0, SPAN // 2),
    length=st.integers(1, SPAN),
    now=st.integers(0, SPAN + 86_400),
    filters=st.sampled_from([(), (("device", "mobile"),)]),
)
def test_days_add_up_to_the_reference(
    store: EventStore, rows: list[tuple[Any, ...]], start: int, length: int, now: int,
    filters: tuple[tuple[str, str], ...],
) -> None:
    site = f"s{next(SITES)}"  # hypothesis may replay an example: a fresh site each time
    write(store, site, rows)
    scope = Scope(site, T0 + timedelta(seconds=start), T0 + timedelta(seconds=start + length), filters)
    at = T0 + timedelta(seconds=now)
    want = reference(rows, scope)
    check(traffic.traffic(store, scope, now=at), want)
    check(traffic.traffic(store, scope, now=at), want)  # closed days now from the rollup


def test_closed_days_are_stored_once_and_recomputed_when_their_events_change(store: EventStore) -> None:
    site = "rollup"
    rows = [(3600, "pageview", "v1", "s1", "Email", "mobile", "/", True),
            (90_000, "pageview", "v1", "s2", "Direct", "desktop", "/", True)]
    write(store, site, rows)
    scope = Scope(site, T0, T0 + timedelta(days=3))
    check(traffic.traffic(store, scope), reference(rows, scope))
    stored = store.query(f"SELECT day, dimension FROM {ANALYTICS_DAYS.name} WHERE site_id = :s AND dimension = 'source'",
                         {"s": site})
    assert sorted(r["day"] for r in stored) == [T0, T0 + timedelta(days=1)]

    late = [(7200, "pageview", "v2", "s3", "Email", "mobile", "/pricing", False)]
    write(store, site, late)  # a late write to a closed day
    check(traffic.traffic(store, scope), reference(rows + late, scope))

    delete = "DELETE FROM events WHERE site_id = :s AND ts >= :d"
    if store.dialect.name == "postgresql":  # PostgreSQL's DELETE returns no rows unless asked
        delete = f"WITH gone AS ({delete} RETURNING 1) SELECT count(*) AS n FROM gone"
    store.query(delete, {"s": site, "d": T0 + timedelta(days=1)})
    check(traffic.traffic(store, scope), reference(rows[:1] + late, scope))
    assert analytics.totals(store, scope) == {"pageviews": 2, "visitors": 2, "sessions": 2}


def test_a_key_seen_on_two_days_is_two_visitors(store: EventStore) -> None:
    rows = [(3600 * 23, "pageview", "v1", "s1", "Email", "mobile", "/", True),
            (3600 * 25, "pageview", "v1", "s1", "Email", "mobile", "/", False)]
    write(store, "two-days", rows)
    scope = Scope("two-days", T0, T0 + timedelta(days=2))
    assert analytics.totals(store, scope) == {"pageviews": 2, "visitors": 2, "sessions": 2}
    assert [r["visitors"] for r in analytics.traffic_series(store, scope, 7 * 86_400)] == [2]


def test_funnel_and_vitals_ratings_add_up_their_days(store: EventStore) -> None:
    """Two days, a session each day reaching "/" then the form; the rollup (closed days,
    no filter) and the live path (a filter every event matches) agree."""
    day1 = [Event("f", T0 + timedelta(hours=9, minutes=m), kind, name=name, session_id="s1", visitor_id="v1",
                  device="mobile", path=path, value=value).row()
            for m, kind, name, path, value in ((0, "pageview", None, "/", None), (1, "vital", "LCP", "/", 5.0),
                                               (2, "form_start", "contact", "/", None),
                                               (3, "form_submit", "contact", "/", None))]
    day2 = [Event("f", T0 + timedelta(days=1, hours=9), "pageview", session_id="s1", visitor_id="v1",
                  device="mobile", path="/pricing").row(),
            Event("f", T0 + timedelta(days=1, hours=9), "vital", name="LCP", session_id="s1", visitor_id="v1",
                  device="mobile", path="/pricing", value=1.0).row()]
    store.write_batch(EVENTS, day1 + day2)
    whole = Scope("f", T0, T0 + timedelta(days=2))
    live = Scope("f", T0, T0 + timedelta(days=2), (("device", "mobile"),))
    for scope in (whole, whole, live):
        steps = analytics.funnel(store, scope, ["/*"])
        assert [s["sessions"] for s in steps] == [2, 1, 1]
        ratings = analytics.conversion_by_vital_ratings(store, scope, ("LCP",))["LCP"]
        assert [(r["rating"], r["sessions"], r["converted"]) for r in ratings] == [("good", 1, 0), ("poor", 1, 1)]


def test_a_snapshot_reads_the_events_once(store: EventStore) -> None:
    """Within a page's snapshot, its panels answer from one reading of the events."""
    first = [(3600, "pageview", "v1", "s1", "Email", "mobile", "/", True)]
    write(store, "snap", first)
    scope = Scope("snap", T0, T0 + timedelta(days=3))
    with rollup.snapshot():
        assert analytics.totals(store, scope)["pageviews"] == 1
        write(store, "snap", [(7200, "pageview", "v2", "s2", "Email", "mobile", "/", True)])
        assert analytics.totals(store, scope)["pageviews"] == 1
    assert analytics.totals(store, scope)["pageviews"] == 2
