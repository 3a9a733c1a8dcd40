"""The ``/ui/`` routes. Each page is one view: it builds its frame (site, range,
refresh), asks its module for the panels and renders them.

Errors on these routes are HTML pages (with the right 4xx), not the API's JSON
envelope, and an unauthenticated visitor is sent to the login page.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
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
from leadwatch.dashboards.pages import privacy as privacy_data
from leadwatch.dashboards.pages import security as security_page
from leadwatch.dashboards.render import HERE, REFRESH_CHOICES, Frame, error_page, page, templates
from leadwatch.dashboards.timerange import RangeError, parse_range
from leadwatch.leads import api as leads_api
from leadwatch.leads.followup import OUTCOMES as FOLLOWUPS
from leadwatch.leads.intake import RESTORABLE
from leadwatch.leads.models import found_in
from leadwatch.marketing.rollup import snapshot as analytics_snapshot
from leadwatch.privacy import api as privacy_api
from leadwatch.privacy.subjects import Subject
from leadwatch.runtime import Runtime
from leadwatch.security import api as security_api
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
            except ApiError as exc:  # an API handler's refusal (404, 409, 422...), as a page
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
async def security_view(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    status: Annotated[str, Query(max_length=16)] = "",
    threat: Annotated[str, Query(max_length=32)] = "",
    severity: Annotated[str, Query(max_length=16)] = "",
    ip: Annotated[str, Query(max_length=45)] = "",
) -> Response:
    chosen = {"status": status, "threat": threat, "severity": severity}
    if problem := security_page.filter_error(chosen):
        raise UiError(422, problem)
    # An address that is not one: the API's handler answers 422 (UiRoute shows it).
    data = await security_page.security(runtime, frame.range, frame.site.id, **chosen, ip=ip.strip())
    return page(frame.with_extra(**chosen, ip=ip.strip()), "security.html", "Security", data=data,
                filters=security_page.FILTERS)


@router.get("/security/incidents/{incident_id}")
async def security_incident_view(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    incident_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
) -> Response:
    incident = await security_api.get_incident(incident_id, runtime)
    if incident.site_id != frame.site.id and incident.site_id in runtime.site_ids:
        frame = frame.with_site(incident.site_id)
    # No periodic refresh: it would wipe a verdict's note while the analyst types it.
    frame = replace(frame, refresh=0)
    held = None
    if any(e.source == "leads" and e.action == "blocked" for e in incident.recent_events):
        # The lead submissions it refused, held back on the Leads page (to restore one
        # a person sent): the incident's span, to the minute, in UTC.
        minute = timedelta(minutes=1)
        held = "/ui/leads?" + urlencode({
            "site": incident.site_id, "show": "held", "range": "custom",
            "from": f"{incident.first_seen_at - minute:%Y-%m-%dT%H:%M}",
            "to": f"{incident.last_seen_at + 2 * minute:%Y-%m-%dT%H:%M}"})
    return page(frame, "security_incident.html", f"Security incident {incident_id}", incident=incident,
                banned=bool(incident.ip != "-" and runtime.guard.bans.banned(incident.ip)), held=held)


def require_admin(user: CurrentUser, why: str) -> CurrentUser:
    """The user, if of the admin role: every UI action is an admin's; a viewer reads only."""
    if user.role != "admin":
        raise UiError(403, why)
    return user


def admin_only(why: str) -> Callable[[CurrentUser], CurrentUser]:
    """A dependency: the logged-in admin, or a 403 page saying ``why``."""

    def check(user: Annotated[CurrentUser, Depends(guard.ui_user)]) -> CurrentUser:
        return require_admin(user, why)

    return check


# Verdicts and bans change what every replica refuses.
SecurityAdmin = Annotated[CurrentUser, Depends(admin_only("Only admins may judge incidents and ban or unban addresses."))]
# Acknowledging, resolving and silencing change who gets paged.
AlertsAdmin = Annotated[CurrentUser, Depends(admin_only(
    "Only admins may acknowledge or resolve incidents and silence alerts."))]
LeadsAdmin = Annotated[CurrentUser, Depends(admin_only(
    "Only admins may record follow-ups and outcomes, and restore held-back submissions."))]


@router.post("/security/incidents/{incident_id}/verdict")
async def security_verdict(
    request: Request,
    incident_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: SecurityAdmin,
) -> Response:
    """Resolve or mark a false positive through the security API's handler, as the user."""
    form = await request.form()
    try:
        verdict = security_api.Verdict.model_validate({
            "status": str(form.get("status") or ""), "note": str(form.get("note") or "").strip() or None,
            "by": user.username})
        await security_api.judge_incident(incident_id, verdict, runtime)
    except ValidationError as exc:
        raise UiError(422, _invalid(exc)) from None
    return back(request, f"/ui/security/incidents/{incident_id}")


@router.post("/security/bans")
async def security_ban(
    request: Request, runtime: Annotated[Runtime, Depends(get_runtime)], user: SecurityAdmin,
) -> Response:
    """Ban an address or network (``lift`` set: lift its bans) through the security API."""
    form = await request.form()
    address = str(form.get("address") or "").strip()
    try:
        if form.get("lift"):
            await security_api.lift_ban(address, runtime)
        else:
            body = security_api.BanIn.model_validate({
                "address": address, "seconds": str(form.get("seconds") or "3600"),
                "reason": str(form.get("reason") or "").strip() or f"banned by {user.username}"})
            await security_api.ban_address(runtime, body, user.username, request)
    except ValidationError as exc:
        raise UiError(422, _invalid(exc)) from None
    # Back to the page the form was on: the Security page or an incident's.
    target = str(form.get("back") or "")
    return back(request, target if re.fullmatch(r"/ui/security(/incidents/\d+)?", target) else "/ui/security")


def _invalid(exc: ValidationError) -> str:
    """A form's validation errors as one line: ``field: reason; …``."""
    return "; ".join(f"{k}: {v}" for k, v in validation_fields(exc.errors()).items())


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
    user: AlertsAdmin,
) -> Response:
    """Acknowledge or resolve through the alerting API's handler, as the logged-in user."""
    await alerting_api.act_on_incident(incident_id, action, alerting_api.ActBody(by=user.username),
                                       runtime, "admin")
    return back(request, "/ui/alerts")


# A matcher list as typed in the silence form: commas separate matchers, except inside quotes.
MATCHER_ITEM = re.compile(r'(?:[^,"]|"[^"]*")+')


@router.post("/alerts/silences")
async def create_silence(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: AlertsAdmin,
) -> Response:
    """Silence or plan maintenance through the alerting API's handler, as the user."""
    form = await request.form()
    duration = str(form.get("duration") or "")
    # isdecimal, not isdigit: int() refuses digits such as "²" that isdigit accepts.
    if not duration.isdecimal() or int(duration) not in alerts_page.SILENCE_DURATIONS:
        raise UiError(422, f"duration: must be one of {', '.join(alerts_page.SILENCE_DURATIONS.values())}")
    try:
        body = alerting_api.SilenceIn.model_validate({
            "matchers": [m.strip() for m in MATCHER_ITEM.findall(str(form.get("matchers") or "")) if m.strip()],
            "duration_seconds": int(duration), "kind": str(form.get("kind") or "silence"),
            "comment": str(form.get("comment") or "").strip(), "created_by": user.username})
    except ValidationError as exc:
        raise UiError(422, _invalid(exc)) from None
    await alerting_api.create_silence(body, runtime, "admin")
    return back(request, "/ui/alerts")


@router.post("/alerts/silences/{silence_id}/expire")
async def expire_silence(
    request: Request,
    silence_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _user: AlertsAdmin,
) -> Response:
    await alerting_api.expire_silence(silence_id, runtime, "admin")
    return back(request, "/ui/alerts")


@router.get("/leads")
async def leads_view(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    tier: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    show: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The inbox, or (``show=held``) what the spam and security checks held back."""
    if tier and tier not in TIERS:
        raise UiError(422, f"tier: must be one of {', '.join(TIERS)}")
    if status and status not in leads_page.STATUSES:
        raise UiError(422, f"status: must be one of {', '.join(leads_page.STATUSES)}")
    if show not in ("", "held"):
        raise UiError(422, "show: must be empty (leads) or held")
    where = leads_page.lead_filter(frame.range, frame.site.id, tier, status, held=show == "held")
    data = await run_in_threadpool(leads_page.held_back if show else leads_page.inbox, runtime, where)
    return page(frame.with_extra(tier=tier, status=status, show=show), "leads.html", "Leads", data=data,
                tiers=TIERS, statuses=leads_page.STATUSES, reasons=leads_page.HELD_BACK)


@router.get("/leads/export.csv")
async def leads_export(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    tier: Annotated[str, Query(max_length=16)] = "",
    status: Annotated[str, Query(max_length=16)] = "",
    show: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """The leads API's CSV export of the inbox's filter (the API itself wants a token)."""
    if (tier and tier not in TIERS) or (status and status not in leads_page.STATUSES) or show not in ("", "held"):
        raise UiError(422, "tier, status or show: not a known value")
    where = leads_page.lead_filter(frame.range, frame.site.id, tier, status, held=show == "held")
    return await leads_api.export_leads(where, runtime, "admin")


@router.get("/leads/{lead_id}")
async def lead_view(
    frame: PageFrame,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
) -> Response:
    detail = await leads_api.get_lead(lead_id, runtime, "admin")
    if detail.site_id != frame.site.id and detail.site_id in runtime.site_ids:
        frame = frame.with_site(detail.site_id)
    return page(frame, "lead.html", f"Lead {lead_id}", lead=detail, found=found_in(detail.flags),
                journey=leads_page.journey(detail), outcomes=FOLLOWUPS,
                reasons=leads_page.HELD_BACK, restorable=RESTORABLE)


@router.post("/leads/{lead_id}/restore")
async def lead_restore(
    request: Request,
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: LeadsAdmin,
) -> Response:
    """Restore a held-back submission as a lead, through the leads API's handler, as
    the logged-in user."""
    await leads_api.restore(runtime, lead_id, user.username)
    return back(request, f"/ui/leads/{lead_id}")


@router.post("/leads/{lead_id}/followups")
async def lead_followup(
    request: Request,
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    _user: LeadsAdmin,
) -> Response:
    """Record a follow-up or outcome through the leads API's handler (the session
    guard has checked the form's CSRF token)."""
    form = await request.form()
    value = str(form.get("value") or "").strip()
    try:
        body = leads_api.FollowUpIn.model_validate({
            "status": str(form.get("status") or ""), "note": str(form.get("note") or "") or None,
            "value": float(value) if value else None})
    except (ValueError, ValidationError) as exc:
        raise UiError(422, f"follow-up: {exc}") from None
    await leads_api.add_followup(lead_id, body, runtime, "admin")
    return back(request, f"/ui/leads/{lead_id}")


def privacy_frame(request: Request, runtime: Runtime, user: CurrentUser) -> Frame:
    """The Privacy page's frame: admins only; no site, range or refresh (a person is
    looked up across sites, and a refresh would drop what the lookup found)."""
    require_admin(user, "The Privacy page is for admins only: it shows and erases personal data. "
                        "Ask an admin to answer data-subject requests.")
    sites = runtime.settings.sites
    return Frame(request, sites[0], sites, parse_range(None), 0, user=user, controls=False)


async def privacy_view_frame(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: Annotated[CurrentUser, Depends(guard.ui_user)],
) -> Frame:
    return privacy_frame(request, runtime, user)


async def privacy_form_frame(request: Request, runtime: Annotated[Runtime, Depends(get_runtime)]) -> Frame:
    """For the page's form posts: plain HTML forms (a download cannot come through
    htmx), answered in place."""
    try:
        user = await guard.ui_user(request)
    except ApiError as exc:  # the CSRF token missing or wrong
        raise UiError(exc.status, f"{exc.message}: reload the Privacy page and try again") from None
    return privacy_frame(request, runtime, user)


def privacy_subject(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    email: Annotated[str, Form(max_length=254)] = "",
    phone: Annotated[str, Form(max_length=50)] = "",
    site: Annotated[str, Form(max_length=63)] = "",
) -> Subject:
    """The person named by the form, checked as the privacy API checks its query. The
    address comes in the body, never the URL (URLs land in access logs and history)."""
    if not email.strip():
        raise UiError(422, "email: enter the person's e-mail address")
    return privacy_api.subject(email, runtime, phone or None, site or None)


PrivacySubject = Annotated[Subject, Depends(privacy_subject)]


async def privacy_page(frame: Frame, runtime: Runtime, **context: Any) -> Response:
    data = await run_in_threadpool(privacy_data.overview, runtime)
    return page(frame, "privacy.html", "Privacy", data=data, sites=runtime.settings.sites, **context)


@router.get("/privacy")
async def privacy_view(
    frame: Annotated[Frame, Depends(privacy_view_frame)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    request_id: Annotated[int | None, Query(alias="request", ge=1, le=2**31 - 1)] = None,
) -> Response:
    """The page; ``?request=<id>`` shows the outcome of a request (where an erasure
    redirects: by its id, never by the address)."""
    done = None
    if request_id is not None:
        found = await run_in_threadpool(runtime.privacy.request, request_id)
        if found is None:
            raise UiError(404, f"there is no privacy request {request_id}")
        done = privacy_data.request_row(found)
    return await privacy_page(frame, runtime, done=done)


@router.post("/privacy/lookup")
async def privacy_lookup(
    frame: Annotated[Frame, Depends(privacy_form_frame)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    who: PrivacySubject,
) -> Response:
    """What is stored about the person, on the page (answered in place: no redirect
    could carry the address without putting it in a URL)."""
    held = await run_in_threadpool(privacy_data.held, runtime, who)
    return await privacy_page(frame, runtime, held=held)


@router.post("/privacy/export")
async def privacy_export(
    frame: Annotated[Frame, Depends(privacy_form_frame)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    who: PrivacySubject,
) -> Response:
    """The privacy API's export document, as a file, recorded with the UI user as actor."""
    assert frame.user is not None  # privacy_frame had one
    document = await run_in_threadpool(runtime.privacy.export, who, privacy_data.actor(frame.user))
    return JSONResponse(document, headers={
        "Content-Disposition": f'attachment; filename="subject-export-{document["request_id"]}.json"',
        "Cache-Control": "no-store"})


@router.post("/privacy/erase")
async def privacy_erase(
    frame: Annotated[Frame, Depends(privacy_form_frame)],
    runtime: Annotated[Runtime, Depends(get_runtime)],
    who: PrivacySubject,
    confirm: Annotated[str, Form(max_length=254)] = "",
) -> Response:
    """Erase the person once the address is typed again, then show the request by id."""
    assert frame.user is not None
    if not privacy_data.confirmed(who, confirm):
        raise UiError(422, "confirm: type the person's e-mail address again to erase them; nothing was erased")
    done = await run_in_threadpool(runtime.privacy.erase, who, privacy_data.actor(frame.user))
    return RedirectResponse(f"/ui/privacy?request={done.request_id}", status_code=303)


def back(request: Request, path: str) -> Response:
    """After an action: htmx follows ``HX-Redirect``; a plain form post gets a 303."""
    target = path + (f"?{request.url.query}" if request.url.query else "")
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": target})
    return RedirectResponse(target, status_code=303)


@router.get("/login")
async def login_page(request: Request, next_: Annotated[str | None, Query(alias="next")] = None) -> Response:
    return login_form(request, guard.safe_next(next_))


def login_form(request: Request, target: str, username: str = "", error: ApiError | None = None) -> Response:
    """The login page: after a refused login, with why (and its status and headers)."""
    return templates.TemplateResponse(
        request, "login.html", {"title": "Log in", "next": target, "username": username,
                                "error": error.message if error else ""},
        status_code=error.status if error else 200, headers=error.headers if error else None)


@router.post("/login")
async def log_in(
    request: Request,
    runtime: Annotated[Runtime, Depends(get_runtime)],
    username: Annotated[str, Form(max_length=150)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    next_: Annotated[str | None, Form(alias="next", max_length=2000)] = None,
) -> Response:
    """The login form, posted by the browser itself (no script needed, so a password
    manager's instant submit works too): checked as the session API checks a login,
    then back to the page asked for, or the login page again saying why."""
    target = guard.safe_next(next_)
    # Login CSRF: another site's form must not log the browser in to an account of
    # its choosing. Browsers say where a post came from; one without the header
    # (an old browser, a script) is not a cross-site form.
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return login_form(request, target, error=ApiError(403, "log in from this site's own login page"))
    if not username.strip() or not password:
        return login_form(request, target, username, ApiError(422, "enter your username and password"))
    try:
        user = await security_api.log_in(runtime, request, username, password)
    except ApiError as exc:  # 401 wrong, 429 locked
        return login_form(request, target, username, exc)
    response = RedirectResponse(target, status_code=303)
    security_api.set_session_cookie(response, runtime, request, user.session_id)
    return response


@router.post("/logout")
async def log_out(
    runtime: Annotated[Runtime, Depends(get_runtime)],
    user: Annotated[CurrentUser, Depends(guard.ui_user)],
) -> Response:
    """The frame's Log out button: ends the session, then the login page."""
    response = RedirectResponse(guard.LOGIN_PATH, status_code=303)
    await security_api.log_out(runtime, user, response)
    return response


@router.get("/static/{name}")
async def asset(name: str) -> Response:
    path = ASSETS.get(name)
    if path is None or not path.is_file():
        raise UiError(404, f"no asset {name!r}")
    return FileResponse(path, headers={"Cache-Control": "no-cache"})


@router.get("/{rest:path}")
async def not_found(rest: str) -> Response:
    raise UiError(404, f"there is no page /ui/{rest}")
