"""Queries over security events (the ``events`` rows of type ``security``), written
once for DuckDB and PostgreSQL through the store's Dialect."""

from __future__ import annotations

from datetime import datetime

from leadwatch.security.events import EVENT_TYPE
from leadwatch.store.events import EventStore
from leadwatch.store.schema import utc_naive


def security_event_counts(
    store: EventStore, site_id: str | None, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """Security events in [start, end): threat -> action -> count."""
    action = store.dialect.json_field("props", "action")
    site = " AND site_id = :site_id" if site_id else ""
    rows = store.query(
        f"SELECT name AS threat, {action} AS action, count(*) AS n FROM events "
        f"WHERE type = :type AND ts >= :start AND ts < :end{site} GROUP BY 1, 2 ORDER BY 1, 2",
        {"type": EVENT_TYPE, "start": utc_naive(start), "end": utc_naive(end),
         **({"site_id": site_id} if site_id else {})},
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["threat"], {})[row["action"]] = int(row["n"])
    return counts
