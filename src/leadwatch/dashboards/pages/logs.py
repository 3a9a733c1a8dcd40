"""The Logs page: the log search (its query syntax, facets and histogram) of the logs
package, run for the page's site and range; and its live tail.

The live tail is polled (htmx, every :data:`TAIL_POLL_SECONDS`) with a time cursor
rather than streamed: each poll asks the logs search for the matching lines with
``cursor <= ts < now - dashboards.tail_delay_seconds`` and answers the next cursor.
Any replica can answer any poll (the cursor travels in the URL, the lines come from
the shared store), nothing is held open through a proxy, and a failed poll is simply
repeated with the same cursor. Waiting ``tail_delay_seconds`` lets lines still in a
write buffer (of any replica) reach the store before their second is passed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool

from leadwatch.dashboards import charts
from leadwatch.dashboards.timerange import TimeRange
from leadwatch.logs.record import DATASETS
from leadwatch.logs.search import FACETS, SearchError, filters, search
from leadwatch.runtime import Runtime

PAGE_SIZE = 50
TAIL_POLL_SECONDS = 2
# Lines kept on the page; a poll also answers at most this many (the newest).
TAIL_LINES = 500


async def logs(runtime: Runtime, tr: TimeRange, site_id: str, q: str, dataset: str | None) -> dict[str, Any]:
    try:
        where = filters(q=q, site_id=site_id, dataset=dataset or None, start=tr.start, end=tr.end)
    except SearchError as exc:
        return {"q": q, "dataset": dataset, "datasets": DATASETS, "error": str(exc), "result": None,
                "charts": {}}
    result = await run_in_threadpool(search, runtime.events, where, limit=PAGE_SIZE, facets=FACETS)
    buckets = result["histogram"]["buckets"]
    histogram = charts.time_series(
        {"lines": [(b["ts"], b["count"]) for b in buckets]}, kind="bar",
        unit=f"lines per {result['histogram']['interval_seconds']} s", span=(tr.start, tr.end)) if buckets else None
    return {"q": q, "dataset": dataset, "datasets": DATASETS, "error": None, "result": result,
            "charts": {"histogram": histogram}}


def tail_cursor(runtime: Runtime, now: datetime) -> datetime:
    """Where a tail starting ``now`` begins: the lines old enough to be stored."""
    return now - timedelta(seconds=runtime.settings.dashboards.tail_delay_seconds)


async def tail(runtime: Runtime, site_id: str, q: str, dataset: str | None, after: datetime,
               now: datetime) -> dict[str, Any]:
    """The matching lines of [after, the next cursor), newest first, at most
    :data:`TAIL_LINES` of them (``skipped`` counts the older ones left out)."""
    cursor = max(tail_cursor(runtime, now), after)
    try:
        where = filters(q=q, site_id=site_id, dataset=dataset or None, start=after, end=cursor)
    except SearchError as exc:
        return {"lines": [], "skipped": 0, "cursor": after, "error": str(exc)}
    result = await run_in_threadpool(search, runtime.events, where, limit=TAIL_LINES, facets=())
    lines = result["records"]
    return {"lines": lines, "skipped": result["total"] - len(lines), "cursor": cursor, "error": None}
