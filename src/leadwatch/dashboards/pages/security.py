"""The Security page: incidents by severity, events by threat and action, the top
offending addresses and countries, active bans, and MTTD / MTTR / false-positive rate
against their targets; the incident list (filtered by status, threat and severity)
leads to each incident's evidence, where an admin gives a verdict or bans the
address. Counts, incidents and actions go through the security API's handlers; the
top offenders are one query here over the same security events (the security package
has no per-address query)."""

from __future__ import annotations

from typing import Any, cast

from starlette.concurrency import run_in_threadpool

from leadwatch.dashboards import charts
from leadwatch.dashboards.timerange import TimeRange
from leadwatch.runtime import Runtime
from leadwatch.security import api as security_api
from leadwatch.security.detect import Threat
from leadwatch.security.events import EVENT_TYPE
from leadwatch.security.incidents import TARGETS
from leadwatch.security.models import INCIDENT_STATES, SEVERITIES
from leadwatch.store.events import EventStore
from leadwatch.store.schema import utc_naive

TOP = 10


def top_offenders(store: EventStore, site_id: str, tr: TimeRange, column: str) -> list[dict[str, Any]]:
    """The addresses (``ip``) or countries with most security events in the range."""
    value = store.dialect.json_field("props", "ip") if column == "ip" else "country"
    rows = store.query(
        f"SELECT {value} AS key, count(*) AS n FROM events WHERE type = :type AND site_id = :site_id "
        f"AND ts >= :start AND ts < :end AND {value} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {TOP}",
        {"type": EVENT_TYPE, "site_id": site_id, "start": utc_naive(tr.start), "end": utc_naive(tr.end)},
    )
    return [{"key": r["key"], "events": int(r["n"])} for r in rows]


def target_status(value: float | None, target: float) -> str:
    if value is None:
        return "unknown"
    return "ok" if value <= target else "warn" if value <= 2 * target else "critical"


# The incident list's filters and their values (the admin API's own).
FILTERS: dict[str, tuple[str, ...]] = {
    "status": INCIDENT_STATES,
    "threat": tuple(Threat),
    "severity": SEVERITIES,
}
INCIDENTS_SHOWN = 50


def filter_error(chosen: dict[str, str]) -> str | None:
    """What is wrong with the incident filters, or None."""
    for name, value in chosen.items():
        if value and value not in FILTERS[name]:
            return f"{name}: must be one of {', '.join(FILTERS[name])}"
    return None


async def security(runtime: Runtime, tr: TimeRange, site_id: str, status: str = "", threat: str = "",
                   severity: str = "", ip: str = "") -> dict[str, Any]:
    summary = await security_api.security_summary(runtime, site_id, (tr.start, tr.end))
    bans = await security_api.list_bans(runtime)
    # filter_error has checked the values against the API's own.
    incidents = await security_api.list_incidents(
        runtime, cast(security_api.IncidentStatus, status or None), site_id, INCIDENTS_SHOWN,
        Threat(threat) if threat else None, cast(security_api.SeverityName, severity or None), ip or None)
    ips = await run_in_threadpool(top_offenders, runtime.events, site_id, tr, "ip")
    countries = await run_in_threadpool(top_offenders, runtime.events, site_id, tr, "country")
    threats = sorted(summary.events)
    actions = sorted({a for per in summary.events.values() for a in per})
    return {
        "charts": {
            "threats": {
                "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
                "legend": {"type": "scroll", "bottom": 0},
                "grid": {"left": 8, "right": 24, "top": 8, "bottom": 60, "containLabel": True},
                "xAxis": {"type": "value", "name": "events", "nameLocation": "middle", "nameGap": 26},
                "yAxis": {"type": "category", "inverse": True, "data": threats},
                "series": [{"name": a, "type": "bar", "stack": "total",
                            "data": [summary.events[t].get(a, 0) for t in threats]} for a in actions],
            },
            "ips": charts.bars([r["key"] for r in ips], [r["events"] for r in ips], unit="events"),
            "countries": charts.bars([r["key"] for r in countries], [r["events"] for r in countries],
                                     unit="events"),
        },
        "summary": summary,
        "bans": bans,
        "never_banned": [str(n) for n in runtime.guard.never_ban],
        "incidents": incidents,
        "top_ips": ips,
        "top_countries": countries,
        "targets": TARGETS,
        "kpi_status": {k: target_status(getattr(summary, k), t) for k, t in TARGETS.items()},
    }
