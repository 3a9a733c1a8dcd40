"""Stored-events panels, on DuckDB and PostgreSQL alike."""

from __future__ import annotations

from datetime import datetime, timedelta

from leadwatch.dashboards.queries.ingest import events_by_type, newest_event
from leadwatch.store.events import EventStore
from leadwatch.store.schema import EVENTS, Event

T0 = datetime(2026, 3, 2, 10, 0, 0)


def test_events_by_type_buckets_and_counts_within_the_range(store: EventStore) -> None:
    rows = [Event("default", T0 + timedelta(minutes=m), t).row()
            for m, t in ((0, "pageview"), (5, "pageview"), (20, "vital"), (65, "pageview"),
                         (130, "pageview"))]
    rows.append(Event("other", T0, "pageview").row())  # another site: not counted
    store.write_batch(EVENTS, rows)
    got = events_by_type(store, site_id="default", start=T0, end=T0 + timedelta(hours=2),
                         bucket_seconds=3600)
    assert [(r["bucket"], r["type"], r["events"]) for r in got] == [
        (T0, "pageview", 2), (T0, "vital", 1), (T0 + timedelta(hours=1), "pageview", 1),
    ]


def test_newest_event_is_the_latest_timestamp_of_the_site(store: EventStore) -> None:
    assert newest_event(store, site_id="default") is None
    store.write_batch(EVENTS, [Event("default", T0, "pageview").row(),
                               Event("default", T0 + timedelta(seconds=90), "vital").row(),
                               Event("other", T0 + timedelta(days=1), "vital").row()])
    assert newest_event(store, site_id="default") == T0 + timedelta(seconds=90)
