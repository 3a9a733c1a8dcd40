"""What the event store holds: events stored per time bucket and type (capacity
trend) and the age of the newest event (ingest lag). Same SQL on both backends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadwatch.store.events import EventStore


def events_by_type(
    store: EventStore, *, site_id: str, start: datetime, end: datetime, bucket_seconds: int
) -> list[dict[str, Any]]:
    """``{bucket, type, events}`` per bucket and event type in [start, end)."""
    sql = (
        f"SELECT {store.dialect.bucket('ts', bucket_seconds)} AS bucket, type, count(*) AS events "
        "FROM events WHERE site_id = :site_id AND ts >= :start AND ts < :end "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return store.query(sql, {"site_id": site_id, "start": start, "end": end})


def newest_event(store: EventStore, *, site_id: str) -> datetime | None:
    """When the newest stored event of the site happened (naive UTC)."""
    rows = store.query("SELECT max(ts) AS newest FROM events WHERE site_id = :site_id",
                       {"site_id": site_id})
    newest: datetime | None = rows[0]["newest"]
    return newest
