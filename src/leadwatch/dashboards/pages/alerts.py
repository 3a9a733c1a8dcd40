"""The Alerts page: alerts pending or firing in the embedded evaluator, silences and
maintenance windows (created and expired through the alerting API), incidents with
their timelines (acknowledge / resolve through the alerting API), MTTA / MTTR, and
each SLO's error budget and burn rates."""

from __future__ import annotations

from typing import Any

from leadwatch.alerting import api as alerting_api
from leadwatch.dashboards.pages.executive import slo_status
from leadwatch.runtime import Runtime

INCIDENTS = 50
# The durations the silence form offers (seconds -> label): an on-call choice, not a date picker.
SILENCE_DURATIONS = {1800: "30 min", 3600: "1 h", 7200: "2 h", 14_400: "4 h", 28_800: "8 h",
                     86_400: "1 day", 259_200: "3 days", 604_800: "7 days"}


async def alerts(runtime: Runtime, days: int) -> dict[str, Any]:
    firing = (await alerting_api.list_alerts(runtime, "admin"))["alerts"]
    slos = (await alerting_api.list_slos(runtime, "admin"))["slos"]
    listed = (await alerting_api.list_incidents(runtime, "admin", None, INCIDENTS))["incidents"]
    incidents = [await alerting_api.get_incident(i["id"], runtime, "admin") for i in listed[:10]]
    incidents += listed[10:]
    stats = await alerting_api.incident_stats(runtime, "admin", days)
    silences = (await alerting_api.list_silences(runtime, "admin"))["silences"]
    return {"alerts": firing, "slos": slos, "incidents": incidents, "stats": stats, "silences": silences,
            "durations": SILENCE_DURATIONS,
            "slo_status": {s["name"]: slo_status(s) for s in slos}}
