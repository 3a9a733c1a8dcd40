"""The Marketing page: funnel with drop-offs, channels and campaigns, attribution by a
chosen model, lead quality by source, landing pages, Web Vitals per page and
conversion by vitals rating, A/B tests when the range has any, and channel ROI when it
has spend. Every number is the analytics (or marketing) API's own answer (its handlers
are called here), so the page and ``/api/v1/analytics`` always agree."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.concurrency import run_in_threadpool

from leadwatch.dashboards import charts
from leadwatch.dashboards.pages import interval, scope
from leadwatch.dashboards.timerange import TimeRange
from leadwatch.leads.queries import LeadFilter, iter_leads
from leadwatch.marketing import analytics, revenue_api
from leadwatch.marketing import routes as analytics_api
from leadwatch.runtime import Runtime
from leadwatch.settings import TIERS
from leadwatch.store.schema import utc_aware

MODELS = tuple(analytics.MODELS)
DEFAULT_MODEL = "last_non_direct"


def lead_quality_by_source(runtime: Runtime, tr: TimeRange, site_id: str) -> list[dict[str, Any]]:
    """Per channel: leads per tier and the mean score (the leads' own stored scores)."""
    where = LeadFilter(site_id=site_id, since=utc_aware(tr.start), until=utc_aware(tr.end))
    tiers: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TIERS, 0))
    scores: dict[str, list[int]] = defaultdict(list)
    with runtime.records.session() as session:
        for lead in iter_leads(session, where):
            channel = lead.channel or analytics.DIRECT
            tiers[channel][lead.tier] += 1
            scores[channel].append(lead.score)
    return sorted(
        ({"channel": c, "leads": len(scores[c]), "tiers": tiers[c],
          "mean_score": sum(scores[c]) / len(scores[c])} for c in scores),
        key=lambda r: (-r["leads"], r["channel"]),
    )


async def marketing(runtime: Runtime, tr: TimeRange, site_id: str, model: str) -> dict[str, Any]:
    s = scope(tr, site_id)
    overview = await analytics_api.overview(s, interval(tr), runtime)  # type: ignore[arg-type]
    funnel = await analytics_api.funnel(s, runtime)
    channels = await analytics_api.channels(s, runtime)
    by_channel = await analytics_api.attribution(s, "channel", None, runtime)
    by_campaign = await analytics_api.attribution(s, "campaign", None, runtime)
    vitals = await analytics_api.vitals(s, "page", runtime)
    experiments = await analytics_api.experiments(s.site_id, (s.start, s.end), runtime)
    quality = await run_in_threadpool(lead_quality_by_source, runtime, tr, site_id)
    roi = await revenue_api.channel_roi(s, model, runtime)  # type: ignore[arg-type]
    attributed = by_channel["rows"]
    return {
        "charts": {
            "funnel": charts.bars([st["step"] for st in funnel["steps"]],
                                  [st["sessions"] for st in funnel["steps"]], unit="sessions"),
            "channels": charts.bars([c["channel"] for c in channels["channels"]],
                                    [c["visitors"] for c in channels["channels"]], unit="visitors"),
            "attribution": charts.bars([r["key"] for r in attributed],
                                       [r["leads"][model] for r in attributed], unit="leads"),
            "traffic": charts.time_series(
                {"visitors": [(r["ts"], r["visitors"]) for r in overview["series"]],
                 "leads": [(r["ts"], r["leads"]) for r in overview["series"]]},
                unit=f"per {overview['interval']}", span=(tr.start, tr.end)),
        },
        "quality_tiers": TIERS,
        "model": model,
        "models": MODELS,
        "overview": overview,
        "funnel": funnel["steps"],
        "channels": channels["channels"],
        "target": channels["target"],
        "attribution": {"channel": by_channel, "campaign": by_campaign},
        "vitals": vitals,
        "experiments": experiments,
        "quality": quality,
        "roi": roi,
    }
