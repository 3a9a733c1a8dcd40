"""Technical-operations numbers from access logs: request rate, error rate and latency
percentiles, per route and over time. Written once for DuckDB and PostgreSQL.

An error is a 5xx response (the server failed); 4xx are the client's mistakes and
are counted apart. Latency is the logged request time (``duration``, seconds);
lines logged without one count for rates but not for percentiles.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadwatch.store.events import EventStore
from leadwatch.store.schema import LOGS

LATENCY_QUANTILES = (0.5, 0.95, 0.99)


def _latency_columns(store: EventStore) -> str:
    d = store.dialect
    return ", ".join(f"{d.percentile('duration', q)} AS p{round(q * 100)}" for q in LATENCY_QUANTILES)


_COUNTS = (
    "count(*) AS requests, "
    "sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END) AS errors, "
    "sum(CASE WHEN status >= 400 AND status < 500 THEN 1 ELSE 0 END) AS client_errors"
)
_WINDOW = "site_id = :site_id AND dataset = 'access' AND ts >= :start AND ts < :end"


def route_stats(
    store: EventStore, *, site_id: str, start: datetime, end: datetime, limit: int = 50
) -> list[dict[str, Any]]:
    """Per route (ids folded to ``:id``), busiest first: requests, requests per second
    over the window, 5xx errors and their share, 4xx, and latency p50/p95/p99."""
    seconds = (end - start).total_seconds()
    rows = store.query(
        f"SELECT route, {_COUNTS}, {_latency_columns(store)} FROM {LOGS.name} "
        f"WHERE {_WINDOW} AND route IS NOT NULL GROUP BY route "
        f"ORDER BY requests DESC, route LIMIT {int(limit)}",
        {"site_id": site_id, "start": start, "end": end},
    )
    return [_rates(row, seconds) for row in rows]


def traffic_series(
    store: EventStore, *, site_id: str, start: datetime, end: datetime, interval_seconds: int
) -> list[dict[str, Any]]:
    """Per time bucket in [start, end): requests, requests per second, 5xx errors and
    their share, 4xx, latency p50/p95/p99. Empty buckets are left out."""
    rows = store.query(
        f"SELECT {store.dialect.bucket('ts', interval_seconds)} AS bucket, {_COUNTS}, "
        f"{_latency_columns(store)} FROM {LOGS.name} WHERE {_WINDOW} GROUP BY 1 ORDER BY 1",
        {"site_id": site_id, "start": start, "end": end},
    )
    return [_rates(row, interval_seconds) for row in rows]


def _rates(row: dict[str, Any], seconds: float) -> dict[str, Any]:
    requests = int(row["requests"])
    errors = int(row["errors"] or 0)
    return {
        **row,
        "requests": requests,
        "errors": errors,
        "client_errors": int(row["client_errors"] or 0),
        "rate_per_second": requests / seconds if seconds > 0 else None,
        "error_rate": errors / requests if requests else 0.0,
    }
