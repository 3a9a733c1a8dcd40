"""Queries over the events every capability shares, written once for both backends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadwatch.store.events import EventStore

QUANTILES = (0.5, 0.75, 0.95)


def event_series(
    store: EventStore,
    *,
    site_id: str,
    start: datetime,
    end: datetime,
    interval_seconds: int,
    type: str | None = None,
    name: str | None = None,
) -> list[dict[str, Any]]:
    """Per time bucket in [start, end): the event count and percentiles of ``value``.

    Buckets without events are left out (callers fill gaps if they draw them).
    """
    d = store.dialect
    pct = ", ".join(f"{d.percentile('value', q)} AS p{round(q * 100)}" for q in QUANTILES)
    filters = "".join(
        f" AND {column} = :{column}" for column, v in (("type", type), ("name", name)) if v
    )
    sql = (
        f"SELECT {d.bucket('ts', interval_seconds)} AS bucket, count(*) AS events, {pct} "
        f"FROM events WHERE site_id = :site_id AND ts >= :start AND ts < :end{filters} "
        "GROUP BY 1 ORDER BY 1"
    )
    params = {"site_id": site_id, "start": start, "end": end, "type": type, "name": name}
    return store.query(sql, {k: v for k, v in params.items() if v is not None})
