"""The Logs page: the log search (its query syntax, facets and histogram) of the logs
package, run for the page's site and range."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool

from leadwatch.dashboards import charts
from leadwatch.dashboards.timerange import TimeRange
from leadwatch.logs.record import DATASETS
from leadwatch.logs.search import FACETS, SearchError, filters, search
from leadwatch.runtime import Runtime

PAGE_SIZE = 50


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
        unit=f"lines per {result['histogram']['interval_seconds']} s") if buckets else None
    return {"q": q, "dataset": dataset, "datasets": DATASETS, "error": None, "result": result,
            "charts": {"histogram": histogram}}
