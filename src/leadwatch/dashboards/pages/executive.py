"""The Executive page: conversion rate against its target, leads today and per day,
lead quality (tiers), revenue from won leads, the estimated revenue impact of
incidents and conversion drops, availability and SLO status, Core Web Vitals
compliance and lead sources. Numbers come from the analytics, leads, marketing and
alerting APIs' handlers."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from starlette.concurrency import run_in_threadpool

from leadwatch.alerting import api as alerting_api
from leadwatch.dashboards import charts
from leadwatch.dashboards.pages import interval, scope
from leadwatch.dashboards.timerange import TimeRange
from leadwatch.leads.queries import LeadFilter, scoring_report
from leadwatch.marketing import analytics, revenue_api
from leadwatch.marketing import routes as analytics_api
from leadwatch.runtime import Runtime
from leadwatch.store.schema import utc_aware, utc_naive, utcnow

CORE_VITALS = ("LCP", "INP", "CLS")


def conversion_status(rate: float | None, target: float) -> str:
    """Green at or above the target, yellow from half of it, red below."""
    if rate is None:
        return "unknown"
    return "ok" if rate >= target else "warn" if rate >= target / 2 else "critical"


def slo_status(slo: dict[str, Any]) -> str:
    """Green with more than a quarter of the period's error budget left, yellow while
    some is left, red once it is spent."""
    remaining = slo["error_budget_remaining_ratio"]
    if remaining is None:
        return "unknown"
    return "ok" if remaining > 0.25 else "warn" if remaining > 0 else "critical"


def local_midnight(now: datetime, zone: ZoneInfo) -> datetime:
    """The start of ``now``'s day in ``zone``, in the storage form (naive UTC): "today"
    is the site's day, not UTC's, for a site in New York or Sydney."""
    local = utc_aware(now).astimezone(zone)
    return utc_naive(datetime.combine(local.date(), time(), tzinfo=zone))


def leads_today(runtime: Runtime, site_id: str, zone: ZoneInfo, now: datetime | None = None) -> int:
    now = now or utcnow()
    midnight = local_midnight(now, zone)
    return len(analytics.leads_in(runtime.records, analytics.Scope(site_id, midnight, now + timedelta(seconds=1))))


def tiers(runtime: Runtime, tr: TimeRange, site_id: str) -> list[dict[str, Any]]:
    where = LeadFilter(site_id=site_id, since=utc_aware(tr.start), until=utc_aware(tr.end))
    with runtime.records.session() as session:
        return scoring_report(session, where)


async def executive(runtime: Runtime, tr: TimeRange, site_id: str) -> dict[str, Any]:
    s = scope(tr, site_id)
    daily = tr.seconds >= 2 * 86_400
    overview = await analytics_api.overview(s, "1d" if daily else interval(tr), runtime)  # type: ignore[arg-type]
    vitals = await analytics_api.vitals(s, "all", runtime)
    slos = (await alerting_api.list_slos(runtime, "admin"))["slos"]
    alerts = (await alerting_api.list_alerts(runtime, "admin"))["alerts"]
    tier_rows = await run_in_threadpool(tiers, runtime, tr, site_id)
    zone = next(s.timezone for s in runtime.settings.sites if s.id == site_id)
    today = await run_in_threadpool(leads_today, runtime, site_id, ZoneInfo(zone))
    impact = await revenue_api.revenue_impact(s, runtime)
    totals = overview["totals"]
    core = [r for r in vitals["rows"] if r["metric"] in CORE_VITALS]
    return {
        "charts": {
            "series": charts.time_series(
                {"leads": [(r["ts"], r["leads"]) for r in overview["series"]],
                 "visitors": [(r["ts"], r["visitors"]) for r in overview["series"]]},
                kind="bar", span=(tr.start, tr.end)),
            "tiers": charts.bars([t["tier"] for t in tier_rows], [t["leads"] for t in tier_rows], unit="leads"),
            "sources": charts.bars([r["key"] for r in overview["by_channel"]],
                                   [r["leads"] for r in overview["by_channel"]], unit="leads"),
        },
        "slo_status": {s["name"]: slo_status(s) for s in slos},
        "totals": totals,
        "conversion_status": conversion_status(totals["conversion_rate"], totals["target"]),
        "leads_today": today,
        "timezone": zone,
        "series": overview["series"],
        "interval": overview["interval"],
        "tiers": tier_rows,
        "won_value": sum(t["won_value"] for t in tier_rows),
        "won": sum(t["won"] for t in tier_rows),
        "slos": slos,
        "firing": [a for a in alerts if a["state"] == "firing"],
        "vitals": core,
        "sources": overview["by_channel"],
        "impact": impact,
    }
