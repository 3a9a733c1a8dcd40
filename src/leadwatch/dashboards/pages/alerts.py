"""The Alerts page: alerts pending or firing in the embedded evaluator, incidents with
their timelines (acknowledge / resolve through the alerting API), MTTA / MTTR, and
each SLO's error budget and burn rates."""

from __future__ import annotations

from typing import Any

from leadwatch.alerting import api as alerting_api
from leadwatch.dashboards.pages.executive import slo_status
from leadwatch.runtime import Runtime

INCIDENTS = 50


async def alerts(runtime: Runtime, days: int) -> dict[str, Any]:
    firing = (await alerting_api.list_alerts(runtime, "admin"))["alerts"]
    slos = (await alerting_api.list_slos(runtime, "admin"))["slos"]
    listed = (await alerting_api.list_incidents(runtime, "admin", None, INCIDENTS))["incidents"]
    incidents = [await alerting_api.get_incident(i["id"], runtime, "admin") for i in listed[:10]]
    incidents += listed[10:]
    stats = await alerting_api.incident_stats(runtime, "admin", days)
    return {"alerts": firing, "slos": slos, "incidents": incidents, "stats": stats,
            "slo_status": {s["name"]: slo_status(s) for s in slos}}
