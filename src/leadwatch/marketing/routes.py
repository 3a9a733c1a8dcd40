"""GET /api/v1/analytics/{overview,funnel,channels,attribution,vitals,experiments} (admin scope)."""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from leadwatch.marketing import analytics
from leadwatch.marketing import experiments as ab
from leadwatch.marketing.analytics import Scope
from leadwatch.marketing.traffic import bucket_start
from leadwatch.runtime import Runtime
from leadwatch.store.schema import utc_naive
from leadwatch.web.deps import Range, get_runtime, require_scope, time_range
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(
    prefix="/api/v1/analytics",
    tags=["analytics"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_scope("admin"))],
)

INTERVALS = {"1h": 3600, "1d": 86_400, "7d": 7 * 86_400}
MAX_BUCKETS = 2000

last_30_days = time_range(span=timedelta(days=30), from_doc="Start (default: to - 30 days).",
                          to_doc="End, exclusive (default: now).")


def scope(
    site: Annotated[str, Query(max_length=63, description="Site id.")],
    window: Annotated[Range, Depends(last_30_days)],
    channel: Annotated[str | None, Query(max_length=32, description="Only this channel.")] = None,
    device: Annotated[str | None, Query(max_length=16, description="Only this device class.")] = None,
    country: Annotated[str | None, Query(pattern=r"^[A-Z]{2}$", description="Only this country.")] = None,
    runtime: Runtime = Depends(get_runtime),
) -> Scope:
    if site not in runtime.site_ids:
        raise ApiError(404, f"unknown site {site!r}", fields={"query.site": "unknown site"})
    filters = tuple((k, v) for k, v in (("channel", channel), ("device", device), ("country", country)) if v)
    return Scope(site, *window, filters)


@router.get("/overview", summary="Traffic, leads and conversion over time and by dimension")
async def overview(
    s: Scope = Depends(scope),
    interval: Literal["1h", "1d", "7d"] = "1d",
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    seconds = INTERVALS[interval]
    if math.ceil((s.end - s.start).total_seconds() / seconds) > MAX_BUCKETS:
        raise ApiError(422, "too many buckets for this range",
                       fields={"query.interval": f"too fine for this range (max {MAX_BUCKETS} buckets)"})
    target = runtime.settings.collect.conversion_target

    def run() -> dict[str, Any]:
        events, records = runtime.events, runtime.records
        leads = analytics.leads_in(records, s)
        traffic = analytics.traffic(events, s, seconds)  # added up from its days (marketing/rollup.py)
        totals = traffic["totals"]
        rate = len(leads) / totals["visitors"] if totals["visitors"] else None
        series = traffic["series"]
        # Lead buckets aligned like the traffic series' buckets.
        per_bucket = analytics.count_by(leads, lambda f: bucket_start(utc_naive(f.at), seconds))
        for row in series:
            row["ts"] = row.pop("bucket")
            row["leads"] = per_bucket.get(row["ts"], 0)
            row["conversion_rate"] = row["leads"] / row["visitors"] if row["visitors"] else None
        return {
            "site": s.site_id, "from": s.start, "to": s.end, "interval": interval,
            "totals": {**totals, "leads": len(leads), "conversion_rate": rate,
                       "target": target, "on_target": rate is not None and rate >= target},
            "series": series,
            "by_channel": analytics.conversion_table(
                traffic["channel"], analytics.count_by(leads, lambda f: f.channel), target),
            "by_landing_page": analytics.conversion_table(
                traffic["landing"], analytics.count_by(leads, lambda f: f.landing_path), target)[:50],
            "by_hour": analytics.conversion_table(
                traffic["hour"], analytics.count_by(leads, lambda f: f.at.hour), target),
            "by_device": analytics.conversion_table(
                traffic["device"], traffic["submits_by_device"], target),
        }

    return await run_in_threadpool(run)


@router.get("/funnel", summary="Sessions at each funnel step, with drop-off")
async def funnel(s: Scope = Depends(scope), runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    pages = runtime.settings.collect.site(s.site_id).funnel_pages
    steps = await run_in_threadpool(analytics.funnel, runtime.events, s, pages)
    return {"site": s.site_id, "from": s.start, "to": s.end, "steps": steps}


@router.get("/channels", summary="Traffic, leads and conversion rate per channel")
async def channels(s: Scope = Depends(scope), runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    target = runtime.settings.collect.conversion_target
    rows = await run_in_threadpool(analytics.channels, runtime.events, runtime.records, s, target)
    return {"site": s.site_id, "from": s.start, "to": s.end, "target": target, "channels": rows}


@router.get("/attribution", summary="Lead and won-value credit under five attribution models")
async def attribution(
    s: Scope = Depends(scope),
    by: Literal["channel", "campaign"] = "channel",
    lookback_days: Annotated[int | None, Query(ge=1, le=730)] = None,
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    days = lookback_days or runtime.settings.collect.attribution_lookback_days
    result = await run_in_threadpool(analytics.attribution, runtime.records, s, timedelta(days=days), by)
    return {"site": s.site_id, "from": s.start, "to": s.end, "by": by, "lookback_days": days,
            "models": list(analytics.MODELS), **result}


@router.get("/vitals", summary="Web Vitals p75, ratings and budget compliance; conversion by rating")
async def vitals(
    s: Scope = Depends(scope),
    by: Literal["page", "device", "all"] = "page",
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    budget = runtime.settings.collect.vitals_budget

    def run() -> dict[str, Any]:
        return {
            "site": s.site_id, "from": s.start, "to": s.end, "by": by,
            "thresholds": analytics.THRESHOLDS, "budget": budget,
            "rows": analytics.vitals(runtime.events, s, budget, by),
            "conversion_by_rating": analytics.conversion_by_vital_ratings(runtime.events, s, ("LCP", "INP")),
        }

    return await run_in_threadpool(run)


@router.get("/experiments", summary="A/B tests: exposures, leads, conversion with CI, lift, significance")
async def experiments(
    site: Annotated[str, Query(max_length=63, description="Site id.")],
    window: Annotated[Range, Depends(last_30_days)],
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    # No channel/device/country filters: leads do not record the device or country of
    # their visit, so a filtered rate would divide unfiltered leads by filtered visitors.
    s = scope(site, window, runtime=runtime)
    config = runtime.settings.collect.experiments
    rows = await run_in_threadpool(ab.experiments, runtime.events, runtime.records, s, config)
    return {"site": s.site_id, "from": s.start, "to": s.end, "alpha": config.alpha,
            "experiments": rows}
