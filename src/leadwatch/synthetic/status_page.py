"""The public status page, ``GET /status``: no login, server-rendered (Jinja2), no
scripts and no CDN; each journey's current state and 90 daily uptime bars."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from leadwatch.runtime import Runtime
from leadwatch.store.schema import utcnow
from leadwatch.synthetic import queries
from leadwatch.synthetic.monitor import SyntheticMonitor
from leadwatch.web.deps import get_runtime
from leadwatch.web.errors import ApiError

router = APIRouter(tags=["status"])

DAYS = 90
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).with_name("templates")),
    autoescape=select_autoescape(["html"]),
)
_STATE_TEXT = {"up": "Operational", "recovered": "Operational", "pending": "Degraded",
               "down": "Down", None: "No data yet"}


def bar(day: datetime, found: tuple[float, int] | None) -> dict[str, str]:
    label = day.strftime("%Y-%m-%d")
    if found is None:
        return {"css": "", "label": f"{label}: no data"}
    ratio, runs = found
    css = "full" if ratio >= 0.999 else "part" if ratio >= 0.95 else "low"
    return {"css": css, "label": f"{label}: {ratio * 100:.2f}% of {runs} checks"}


def page_data(monitor: SyntheticMonitor, uptime: dict[str, dict[datetime, tuple[float, int]]],
              today: datetime) -> dict[str, Any]:
    days = [today - timedelta(days=DAYS - 1 - i) for i in range(DAYS)]
    journeys = []
    for j in monitor.catalog.journeys:
        state = monitor.overall_state(j.name)
        daily = uptime.get(j.name, {})
        runs = sum(n for _, n in daily.values())
        good = sum(r * n for r, n in daily.values())
        journeys.append({
            "title": j.display,
            "state": state.value if state else None,
            "state_text": _STATE_TEXT[state.value if state else None],
            "bars": [bar(d, daily.get(d)) for d in days],
            "uptime": f"{good / runs * 100:.2f}% uptime" if runs else "no data",
            "locations": [{"name": loc, "state": s.state.value}
                          for loc, s in sorted(monitor.journey_states(j.name).items())],
        })
    states = {j["state"] for j in journeys}
    if "down" in states:
        summary = {"css": "bad", "text": "Some services are down"}
    elif "pending" in states:
        summary = {"css": "warn", "text": "Some services are degraded"}
    elif states - {None}:
        summary = {"css": "ok", "text": "All services are operational"}
    else:
        summary = {"css": "none", "text": "No checks have run yet"}
    return {"journeys": journeys, "summary": summary, "days": DAYS}


@router.get("/status", response_class=HTMLResponse, summary="Public status page (no login)")
async def status_page(runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    monitor = runtime.synthetic
    if not monitor.settings.status_page:
        raise ApiError(404, "the status page is turned off (synthetic.status_page)")
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    uptime = await run_in_threadpool(
        queries.daily_uptime, runtime.events, today - timedelta(days=DAYS - 1), now + timedelta(seconds=1)
    )
    html = _templates.get_template("status.html").render(
        title=monitor.settings.status_title,
        updated=now.strftime("%Y-%m-%d %H:%M"),
        **page_data(monitor, uptime, today),
    )
    return HTMLResponse(html, headers={"Cache-Control": "public, max-age=30"})
