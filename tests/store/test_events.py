"""The EventStore on both backends: round trips, migrations, and a query layer that
gives the same answers on DuckDB and PostgreSQL."""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
import sqlalchemy.exc
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from leadwatch.settings import Settings
from leadwatch.store import events as events_module
from leadwatch.store.events import SCHEMA_VERSIONS, EventStore, open_event_store
from leadwatch.store.queries import event_series
from leadwatch.store.records import create_records_engine
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


# ---- PostgreSQL: the session index of schema version 4, built concurrently ----

SESSION_INDEX = "events_session_id_idx"


@pytest.fixture
def pg_at_version_3(settings_for: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch) -> Iterator[EventStore]:
    """A PostgreSQL event store migrated to version 3 (before the session index), with
    events in it; the versions after 3 are pending again once the fixture hands it over."""
    settings = settings_for("postgres")
    engine = create_records_engine(settings)
    store = open_event_store(settings, engine)
    with monkeypatch.context() as patched:
        patched.setattr(events_module, "SCHEMA_VERSIONS", SCHEMA_VERSIONS[:3])
        store.migrate()
    store.write_batch(EVENTS, [Event("default", T0, "pageview", session_id="s1").row()] * 2)
    yield store
    store.close()
    engine.dispose()


def autocommit(store: EventStore) -> Any:
    return store.engine.connect().execution_options(isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]


def session_index(store: EventStore) -> dict[str, Any] | None:
    rows = store.query("SELECT indisvalid AS valid, indisunique AS is_unique FROM pg_index "
                       f"WHERE indexrelid = to_regclass('{SESSION_INDEX}')")
    return rows[0] if rows else None


def versions(store: EventStore) -> list[int]:
    return [r["version"] for r in store.query("SELECT version FROM leadwatch_event_schema ORDER BY version")]


def test_postgres_builds_the_session_index_concurrently_while_writes_go_on(pg_at_version_3: EventStore) -> None:
    store = pg_at_version_3
    assert versions(store) == [1, 2, 3] and session_index(store) is None
    with autocommit(store) as reader, autocommit(store) as writer, autocommit(store) as watcher:
        # A transaction holding its snapshot: a concurrent build waits for it to end,
        # which holds the build in progress while this test writes.
        reader.exec_driver_sql("BEGIN ISOLATION LEVEL REPEATABLE READ")
        reader.exec_driver_sql("SELECT count(*) FROM events").scalar()
        migration = ThreadPoolExecutor(1).submit(store.migrate)
        deadline = time.monotonic() + 60
        while not (command := watcher.exec_driver_sql(
                "SELECT command FROM pg_stat_progress_create_index WHERE relid = 'events'::regclass").scalar()):
            assert not migration.done(), migration.result()
            assert time.monotonic() < deadline, "the index build never started"
            time.sleep(0.05)
        assert command == "CREATE INDEX CONCURRENTLY"
        # A build inside a transaction would make this write wait for it to finish.
        writer.exec_driver_sql("SET lock_timeout = '10s'")
        writer.exec_driver_sql("INSERT INTO events (site_id, ts, type) VALUES ('default', now(), 'pageview')")
        reader.exec_driver_sql("COMMIT")
        migration.result(timeout=60)
    assert session_index(store) == {"valid": True, "is_unique": False}
    assert versions(store) == list(range(1, len(SCHEMA_VERSIONS) + 1))
    assert store.count() == 3


def test_postgres_rebuilds_an_invalid_index_left_by_an_interrupted_build(pg_at_version_3: EventStore) -> None:
    store = pg_at_version_3
    with autocommit(store) as conn, pytest.raises(sqlalchemy.exc.IntegrityError):
        # A concurrent build that fails (the two events share a session) leaves its
        # index behind, INVALID, as an interrupted one does.
        conn.exec_driver_sql(f"CREATE UNIQUE INDEX CONCURRENTLY {SESSION_INDEX} ON events (session_id)")
    assert session_index(store) == {"valid": False, "is_unique": True}
    store.migrate()
    assert session_index(store) == {"valid": True, "is_unique": False}
    assert versions(store) == list(range(1, len(SCHEMA_VERSIONS) + 1))
    store.migrate()  # and again: nothing to do
    assert versions(store) == list(range(1, len(SCHEMA_VERSIONS) + 1))
