"""The ``/ui/`` routes. Each page is one view: it builds its frame (site, range,
refresh), asks its module for the panels and renders them.

Errors on these routes are HTML pages (with the right 4xx), not the API's JSON
envelope, and an unauthenticated visitor is sent to the login page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.routing import APIRoute
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from leadwatch.alerting import api as alerting_api
from leadwatch.dashboards import guard, ops
from leadwatch.dashboards.pages import alerts as alerts_page
from leadwatch.dashboards.pages import executive as executive_page
from leadwatch.dashboards.pages import leads as leads_page
from leadwatch.dashboards.pages import logs as logs_page
from leadwatch.dashboards.pages import marketing as marketing_page
from leadwatch.dashboards.pages import security as security_page
from leadwatch.dashboards.render import HERE, REFRESH_CHOICES, Frame, error_page, page, templates
from leadwatch.dashboards.timerange import RangeError, parse_range
from leadwatch.leads import api as leads_api
from leadwatch.leads.followup import OUTCOMES as FOLLOWUPS
from leadwatch.marketing.rollup import snapshot as analytics_snapshot
from leadwatch.runtime import Runtime
from leadwatch.security.sessions import CurrentUser
from leadwatch.settings import TIERS
from leadwatch.store.schema import utc_naive, utcnow
from leadwatch.web.deps import get_runtime
from leadwatch.web.errors import ApiError, validation_fields


class UiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class UiRoute(APIRoute):
    """Turns the UI's errors into HTML pages and a missing login into a redirect."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                # One reading of the events per page: its panels agree and share work.
                with analytics_snapshot():
                    return await handler(request)
            except guard.LoginRequired:
                if request.headers.get("hx-request"):
                    # htmx would swap a followed redirect's login form into the page.
                    return Response(status_code=401, headers={"HX-Redirect": guard.login_url(request)})
                return RedirectResponse(guard.login_url(request), status_code=303)
            except UiError as exc:
                return error_page(request, exc.status, exc.message)
            except RequestValidationError as exc:
                fields = validation_fields(exc.errors())
                message = "; ".join(f"{k.removeprefix('query.')}: {v}" for k, v in fields.items())
                return error_page(request, 422, message)

        return handle


router = APIRouter(prefix="/ui", route_class=UiRoute, include_in_schema=False)

# Assets: the stylesheet in this package and the bundle `make` builds from frontend/.
ASSETS = {
    "ui.css": HERE / "static" / "ui.css",
    "ui.js": HERE / "static" / "build" / "ui.js",
    "favicon.svg": HERE / "static" / "favicon.svg",
}


def frame(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: Annotated[CurrentUser, Depends(guard.ui_user)],
    site: Annotated[str | None, Query(max_length=63)] = None,
    range_: Annotated[str | None, Query(alias="range", max_length=16)] = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    refresh: int | None = None,
) -> Frame:
    sites = runtime.settings.sites
    chosen = next((s for s in sites if s.id == site), None) if site else sites[0]
    if chosen is None:
        raise UiError(404, f"there is no site {site!r}")
    try:
        time_range = parse_range(range_, start, end)
    except RangeError as exc:
        raise UiError(422, f"{exc.field}: {exc}") from None
    refresh = runtime.settings.dashboards.refresh_seconds if refresh is None else refresh
    if refresh not in REFRESH_CHOICES:
        raise UiError(422, f"refresh: must be one of {', '.join(map(str, REFRESH_CHOICES))}")
    return Frame(request, chosen, sites, time_range, refresh, user=user)


PageFrame = Annotated[Frame, Depends(frame)]


@router.get("")
@router.get("/")
async def home(request: Request, _user: Annotated[CurrentUser, Depends(guard.ui_user)]) -> Response:
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"/ui/executive{query}", status_code=303)


@router.get("/ops")
async def operations_page(
    frame: PageFrame, runtime: Annotated[Runtime, Depends(get_runtime)]
) -> Response:
    data = await run_in_threadpool(
        ops.operations, runtime, runtime.metrics_history, frame.range, frame.site.id
    )
    return page(frame, "ops.html", "Technical operations", ops=data)


@router.get("/executive")
async def executive_view(frame: PageFrame, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    try:
        data = await executive_page.executive(runtime, frame.range, frame.site.id)
    except ApiError as exc:  # a range the revenue impact refuses (beyond its years)
        raise UiError(exc.status, "; ".join(f"{k.split('.')[-1]}: {v}" for k, v in exc.fields.items())
                      or exc.message) from None
    return page(frame, "executive.html", "Executive", data=data)


@router.get("/marketing")
async def marketing_view(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    model: Annotated[str, Query(max_length=32)] = marketing_page.DEFAULT_MODEL,
) -> Response:
    if model not in marketing_page.MODELS:
        raise UiError(422, f"model: must be one of {', '.join(marketing_page.MODELS)}")
    data = await marketing_page.marketing(runtime, frame.range, frame.site.id, model)
    return page(frame.with_extra(model=model), "marketing.html", "Marketing", data=data)


@router.get("/security")
async def security_view(frame: PageFrame, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    data = await security_page.security(runtime, frame.range, frame.site.id)
    return page(frame, "security.html", "Security", data=data)


@dataclass(frozen=True)
class LogSearch:
    """The logs pages' search: a query in the log search syntax and a dataset ("" for all)."""

    q: str
    dataset: str

    def poll_query(self, site_id: str) -> str:
        """The live tail's poll parameters."""
        return urlencode({"site": site_id, "q": self.q, "dataset": self.dataset})


def log_search(
    q: Annotated[str, Query(max_length=2000)] = "",
    dataset: Annotated[str, Query(max_length=16)] = "",
) -> LogSearch:
    if dataset and dataset not in logs_page.DATASETS:
        raise UiError(422, f"dataset: must be one of {', '.join(logs_page.DATASETS)}")
    return LogSearch(q, dataset)


LogSearchQuery = Annotated[LogSearch, Depends(log_search)]


@router.get("/logs")
async def logs_view(
    frame: PageFrame, runtime: Annotated[Runtime, Depends(get_runtime)], search: LogSearchQuery
) -> Response:
    data = await logs_page.logs(runtime, frame.range, frame.site.id, search.q, search.dataset or None)
    return page(frame.with_extra(q=search.q, dataset=search.dataset), "logs.html", "Logs", data=data,
                status_code=422 if data["error"] else 200)


@router.get("/logs/tail")
async def logs_tail_view(
    frame: PageFrame, runtime: Annotated[Runtime, Depends(get_runtime)], search: LogSearchQuery
) -> Response:
    """The live tail of a log search: the page polls ``/ui/logs/tail/lines``."""
    try:
        logs_page.filters(q=search.q)
    except logs_page.SearchError as exc:
        raise UiError(422, f"q: {exc}") from None
    # The tail polls on its own (the page's periodic refresh would wipe its lines) and
    # starts now: a range or a refresh would mean nothing here.
    frame = replace(frame.with_extra(q=search.q, dataset=search.dataset), refresh=0, live=True)
    return page(frame, "logs_tail.html", "Logs: live tail", q=search.q, dataset=search.dataset,
                datasets=logs_page.DATASETS, query=search.poll_query(frame.site.id),
                cursor=logs_page.tail_cursor(runtime, utcnow()), poll_seconds=logs_page.TAIL_POLL_SECONDS,
                max_lines=logs_page.TAIL_LINES, delay=runtime.settings.dashboards.tail_delay_seconds)


@router.get("/logs/tail/lines")
async def logs_tail_lines(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _user: Annotated[CurrentUser, Depends(guard.ui_user)],
    after: datetime,
    site: Annotated[str, Query(max_length=63)],
    search: LogSearchQuery,
) -> Response:
    """New lines since ``after`` (an htmx fragment), with the poller for the next cursor."""
    if site not in runtime.site_ids:
        raise UiError(404, f"there is no site {site!r}")
    data = await logs_page.tail(runtime, site, search.q, search.dataset or None, utc_naive(after), utcnow())
    if data["error"]:
        raise UiError(422, f"q: {data['error']}")
    return templates.TemplateResponse(
        request, "logs_tail_lines.html",
        {**data, "query": search.poll_query(site), "poll_seconds": logs_page.TAIL_POLL_SECONDS})


@router.get("/alerts")
async def alerts_view(frame: PageFrame, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Response:
    days = max(1, round(frame.range.seconds / 86_400))
    data = await alerts_page.alerts(runtime, min(days, 365))
    return page(frame, "alerts.html", "Alerts and SLOs", data=data)


@router.post("/alerts/incidents/{incident_id}/{action}")
async def incident_action(
    request: Request,
    incident_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    action: Literal["acknowledge", "resolve"],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: Annotated[CurrentUser, Depends(guard.ui_user)],
) -> Response:
    """Acknowledge or resolve through the alerting API's handler, as the logged-in user."""
    try:
        await alerting_api.act_on_incident(incident_id, action, alerting_api.ActBody(by=user.username),
                                           runtime, "admin")
    except ApiError as exc:
        raise UiError(exc.status, exc.message) from None
    return back(request, "/ui/alerts")


# A matcher list as typed in the silence form: commas separate matchers, except inside quotes.
MATCHER_ITEM = re.compile(r'(?:[^,"]|"[^"]*")+')


@router.post("/alerts/silences")
async def create_silence(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: Annotated[CurrentUser, Depends(guard.ui_user)],
) -> Response:
    """Silence or plan maintenance through the alerting API's handler, as the user."""
    form = await request.form()
    duration = str(form.get("duration") or "")
    if not duration.isdigit() or int(duration) not in alerts_page.SILENCE_DURATIONS:
        raise UiError(422, f"duration: must be one of {', '.join(alerts_page.SILENCE_DURATIONS.values())}")
    try:
        body = alerting_api.SilenceIn(
            matchers=[m.strip() for m in MATCHER_ITEM.findall(str(form.get("matchers") or "")) if m.strip()],
            duration_seconds=int(duration), kind=str(form.get("kind") or "silence"),
            comment=str(form.get("comment") or "").strip(), created_by=user.username)
    except ValidationError as exc:
        fields = validation_fields(exc.errors())
        raise UiError(422, "; ".join(f"{k}: {v}" for k, v in fields.items())) from None
    try:
        await alerting_api.create_silence(body, runtime, "admin")
    except ApiError as exc:
        raise UiError(exc.status, exc.message) from None
    return back(request, "/ui/alerts")


@router.post("/alerts/silences/{silence_id}/expire")
async def expire_silence(
    request: Request,
    silence_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _user: Annotated[CurrentUser, Depends(guard.ui_user)],
) -> Response:
    try:
        await alerting_api.expire_silence(silence_id, runtime, "admin")
    except ApiError as exc:
        raise UiError(exc.status, exc.message) from None
    return back(request, "/ui/alerts")


@router.get("/leads")
async def leads_view(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    tier: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    if tier and tier not in TIERS:
        raise UiError(422, f"tier: must be one of {', '.join(TIERS)}")
    if status and status not in leads_page.STATUSES:
        raise UiError(422, f"status: must be one of {', '.join(leads_page.STATUSES)}")
    where = leads_page.lead_filter(frame.range, frame.site.id, tier, status)
    data = await run_in_threadpool(leads_page.inbox, runtime, where)
    return page(frame.with_extra(tier=tier, status=status), "leads.html", "Leads", data=data,
                tiers=TIERS, statuses=leads_page.STATUSES)


@router.get("/leads/export.csv")
async def leads_export(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    tier: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The leads API's CSV export of the inbox's filter (the API itself wants a token)."""
    if (tier and tier not in TIERS) or (status and status not in leads_page.STATUSES):
        raise UiError(422, "tier or status: not a known value")
    where = leads_page.lead_filter(frame.range, frame.site.id, tier, status)
    return await leads_api.export_leads(where, runtime, "admin")


@router.get("/leads/{lead_id}")
async def lead_view(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
) -> Response:
    try:
        detail = await leads_api.get_lead(lead_id, runtime, "admin")
    except ApiError as exc:
        raise UiError(exc.status, exc.message) from None
    if detail.site_id != frame.site.id and detail.site_id in runtime.site_ids:
        frame = frame.with_site(detail.site_id)
    return page(frame, "lead.html", f"Lead {lead_id}", lead=detail,
                journey=leads_page.journey(detail), outcomes=FOLLOWUPS)


@router.post("/leads/{lead_id}/followups")
async def lead_followup(
    request: Request,
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _user: Annotated[CurrentUser, Depends(guard.ui_user)],
) -> Response:
    """Record a follow-up or outcome through the leads API's handler. The session guard
    has checked the CSRF header (htmx sends it from the form's ``hx-headers``)."""
    form = await request.form()
    value = str(form.get("value") or "").strip()
    try:
        body = leads_api.FollowUpIn.model_validate({
            "status": str(form.get("status") or ""), "note": str(form.get("note") or "") or None,
            "value": float(value) if value else None})
    except (ValueError, ValidationError) as exc:
        raise UiError(422, f"follow-up: {exc}") from None
    try:
        await leads_api.add_followup(lead_id, body, runtime, "admin")
    except ApiError as exc:
        raise UiError(exc.status, exc.message) from None
    return back(request, f"/ui/leads/{lead_id}")


def back(request: Request, path: str) -> Response:
    """After an action: htmx follows ``HX-Redirect``; a plain form post gets a 303."""
    target = path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_page(request: Request, next_: Annotated[str | None, Query(alias="next")] = None) -> Response:
    """The login form; ui.js posts it to /api/v1/session and then opens ``next``."""
    return templates.TemplateResponse(
        request, "login.html", {"title": "Log in", "next": guard.safe_next(next_)}
    )


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    path = ASSETS.get(name)
    if path is None or not path.is_file():
        raise UiError(404, f"no asset {name!r}")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


@router.get("/{rest:path}")
async def not_found(rest: str) -> Response:
    raise UiError(404, f"there is no page /ui/{rest}")
