"""The EventStore on both backends: round trips, migrations, and a query layer that
gives the same answers on DuckDB and PostgreSQL."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from leadwatch.store.events import SCHEMA_VERSIONS, EventStore
from leadwatch.store.queries import event_series
from leadwatch.store.schema import EVENTS, Event
from leadwatch.store.sql import DUCKDB, POSTGRES

T0 = datetime(2026, 3, 2, 10, 0, 0)  # a Monday


def test_rows_round_trip_with_their_types(store: EventStore) -> None:
    event = Event(
        site_id="default",
        ts=T0,
        type="vital",
        name="LCP",
        visitor_id="v1",
        session_id="s1",
        path="/pricing",
        referrer="https://www.google.com/",
        channel="Organic Search",
        country="DE",
        device="mobile",
        browser="Firefox",
        os="Android",
        value=2.75,
        props={"element": "img.hero", "nested": {"n": 1}},
    )
    store.write_batch(EVENTS, [event.row(), Event("default", T0, "pageview").row()])

    rows = store.query("SELECT * FROM events ORDER BY type DESC")

    assert len(rows) == 2
    got = rows[0]
    props = got.pop("props")
    assert got == {k: v for k, v in vars_of(event).items() if k != "props"}
    assert props == {"element": "img.hero", "nested": {"n": 1}}
    assert rows[1]["props"] is None and rows[1]["value"] is None


def test_migrate_is_idempotent_and_keeps_data(store: EventStore) -> None:
    store.write_batch(EVENTS, [Event("default", T0, "pageview").row()])
    store.migrate()
    store.migrate()
    assert store.count(site_id="default") == 1
    versions = store.query("SELECT version FROM leadwatch_event_schema ORDER BY version")
    assert [r["version"] for r in versions] == list(range(1, len(SCHEMA_VERSIONS) + 1))


def test_a_failed_batch_writes_nothing(store: EventStore) -> None:
    good = Event("default", T0, "pageview").row()
    bad = Event("default", None, "pageview").row()  # type: ignore[arg-type]  # ts NOT NULL
    with pytest.raises(Exception):
        store.write_batch(EVENTS, [good, bad])
    assert store.count() == 0


def test_series_buckets_counts_and_percentiles(store: EventStore) -> None:
    values = [0.5, 1.0, 1.5, 4.0]
    rows = [Event("default", T0 + timedelta(minutes=i), "vital", name="LCP", value=v).row()
            for i, v in enumerate(values)]
    rows.append(Event("default", T0 + timedelta(hours=1, minutes=5), "vital", name="LCP", value=9.0).row())
    rows.append(Event("default", T0, "pageview").row())  # filtered out by name
    rows.append(Event("other", T0, "vital", name="LCP", value=100.0).row())  # other site
    store.write_batch(EVENTS, rows)

    series = event_series(
        store, site_id="default", start=T0, end=T0 + timedelta(hours=2),
        interval_seconds=3600, type="vital", name="LCP",
    )

    assert [r["bucket"] for r in series] == [T0, T0 + timedelta(hours=1)]
    assert [r["events"] for r in series] == [4, 1]
    assert series[0]["p50"] == pytest.approx(1.25)
    assert series[0]["p75"] == pytest.approx(2.125)
    assert series[0]["p95"] == pytest.approx(3.625)
    assert series[1]["p50"] == series[1]["p95"] == 9.0


def test_weekly_buckets_start_on_monday(store: EventStore) -> None:
    sunday = T0 + timedelta(days=6)
    store.write_batch(EVENTS, [Event("default", ts, "pageview").row() for ts in (T0, sunday, sunday + timedelta(days=1))])
    series = event_series(store, site_id="default", start=T0 - timedelta(days=7),
                          end=T0 + timedelta(days=14), interval_seconds=7 * 86400)
    assert [(r["bucket"], r["events"]) for r in series] == [(T0 - timedelta(hours=10), 2), (T0 + timedelta(days=7) - timedelta(hours=10), 1)]


@hsettings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    points=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=4 * 3600 - 1),
            st.floats(min_value=0, max_value=60_000, allow_nan=False, allow_infinity=False),
        ),
        min_size=1,
        max_size=60,
    ),
    interval=st.sampled_from([60, 300, 900, 3600]),
)
def test_series_matches_a_reference_computation(store: EventStore, points: list[tuple[int, float]], interval: int) -> None:
    """Counts per bucket and linearly interpolated percentiles equal Python's own."""
    site = f"s{abs(hash((tuple(points), interval))) % 10**12}"
    store.write_batch(EVENTS, [Event(site, T0 + timedelta(seconds=s), "vital", value=v).row() for s, v in points])

    series = event_series(store, site_id=site, start=T0, end=T0 + timedelta(hours=4), interval_seconds=interval)

    by_bucket: dict[datetime, list[float]] = {}
    for s, v in points:
        by_bucket.setdefault(T0 + timedelta(seconds=s - s % interval), []).append(v)
    assert [r["bucket"] for r in series] == sorted(by_bucket)
    for row in series:
        values = sorted(by_bucket[row["bucket"]])
        assert row["events"] == len(values)
        for q in (50, 75, 95):
            assert row[f"p{q}"] == pytest.approx(reference_percentile(values, q / 100), rel=1e-9, abs=1e-9)


def test_placeholders_render_for_each_dialect() -> None:
    sql = "SELECT x::TEXT FROM t WHERE a = :a AND b LIKE '10%' AND ts > TIMESTAMP '2000-01-03 00:00:00'"
    assert DUCKDB.render(sql) == sql.replace(":a", "$a")
    assert POSTGRES.render(sql) == sql.replace(":a", "%(a)s").replace("10%", "10%%")


def reference_percentile(values: list[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def vars_of(event: Event) -> dict[str, object]:
    return {name: getattr(event, name) for name in EVENTS.column_names}


def test_counter_helper(store: EventStore) -> None:
    store.write_batch(EVENTS, [Event("a", T0, "x").row(), Event("a", T0, "y").row(), Event("b", T0, "x").row()])
    assert Counter({"a": store.count(site_id="a"), "b": store.count(site_id="b")}) == Counter({"a": 2, "b": 1})
    assert store.count(site_id="a", type="x") == 1
