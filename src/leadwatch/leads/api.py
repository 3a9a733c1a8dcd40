"""HTTP: the public lead endpoint (JSON and HTML forms) and the admin API over leads.

``POST /api/leads`` parses the body itself (it takes JSON, url-encoded and multipart
forms alike), so its request schema is declared explicitly for the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool

from leadwatch.leads.defence import issue_form_token
from leadwatch.leads.followup import FollowUpError, record_followup
from leadwatch.leads.form import KNOWN_FIELDS, LeadIn, from_form
from leadwatch.leads.intake import RESTORABLE, Outcome, RestoreError, Submission
from leadwatch.leads.models import Lead
from leadwatch.leads.queries import (
    LeadFilter, activities, csv_lines, find_leads, iter_leads, scoring_report,
)
from leadwatch.runtime import Runtime
from leadwatch.security.clients import client_ip
from leadwatch.store.models import now
from leadwatch.store.schema import utc_aware
from leadwatch.synthetic.context import MARKER_HEADER
from leadwatch.synthetic.marker import verify_marker
from leadwatch.web.deps import OpenRange, get_runtime, require_scope, time_range
from leadwatch.web.errors import ERROR_RESPONSES, ApiError, validation_fields

public = APIRouter(prefix="/api/leads", tags=["leads"], responses=ERROR_RESPONSES)
admin = APIRouter(prefix="/api/v1/leads", tags=["leads"], responses=ERROR_RESPONSES)

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
MAX_FORM_FIELDS = 200
THANKS_PATH = "/api/leads/thanks"
_IDEMPOTENCY_KEY = r"^[\x21-\x7e]{1,128}$"


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON schema with its ``$defs`` written in place (the OpenAPI document keeps
    a request body declared by hand outside its components)."""
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(defs[node["$ref"].rsplit("/", 1)[1]])
            return {k: resolve(v) for k, v in node.items()}
        return [resolve(v) for v in node] if isinstance(node, list) else node

    return dict(resolve(schema))


_BODY_SCHEMA = _inline(LeadIn.model_json_schema())
_FORM_SCHEMA = {"type": "object", "properties": {
    k: {"type": "string"} for k in _BODY_SCHEMA["properties"] if k not in ("consent", "experiments")
}, "required": ["name", "email"], "additionalProperties": {"type": "string"}}


class LeadAccepted(BaseModel):
    id: int
    score: int = Field(ge=0, le=100)
    tier: Literal["premium", "high", "standard", "low", "poor"]
    follow_up_due: datetime | None


def _site_id(runtime: Runtime, given: Any) -> str:
    if given is None:
        if len(runtime.site_ids) == 1:
            return next(iter(runtime.site_ids))
        raise ApiError(422, "site_id is required when several sites are configured",
                       fields={"body.site_id": "required"})
    if not isinstance(given, str) or given not in runtime.site_ids:
        raise ApiError(422, "unknown site", fields={"body.site_id": "not a configured site"})
    return given


async def _read_body(request: Request, runtime: Runtime) -> tuple[dict[str, Any], bool]:
    """The submission as a dict and whether it came from an HTML form."""
    cap = runtime.settings.leads.max_body_bytes
    declared = request.headers.get("content-length", "")
    if (declared.isdigit() and int(declared) > cap) or len(body := await request.body()) > cap:
        runtime.leads.metrics.rejected.labels("too_large").inc()
        raise ApiError(413, f"a lead submission is at most {cap} bytes")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/json" or ctype.endswith("+json"):
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, f"the body is not valid JSON: {exc}", fields={"body": "invalid JSON"}) from None
        if not isinstance(data, dict):
            raise ApiError(422, "the body must be a JSON object", fields={"body": "must be an object"})
        return data, False
    if ctype in FORM_TYPES:
        form = await request.form(max_files=10, max_fields=MAX_FORM_FIELDS)
        try:
            return from_form(list(form.multi_items())), True
        finally:
            await form.close()
    raise ApiError(415, "send application/json, application/x-www-form-urlencoded or multipart/form-data",
                   fields={"header.content-type": "unsupported"})


def _no_nul(value: Any, where: str) -> None:
    # NUL is never in a name or a message, and PostgreSQL's text cannot hold it.
    if isinstance(value, str) and "\x00" in value:
        raise ApiError(422, "text must not contain NUL characters", fields={where: "contains NUL"})
    if isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k, where)
            _no_nul(v, f"{where}.{k}")


def thank_you_url(runtime: Runtime, site_id: str) -> str:
    configured = runtime.settings.leads.site(site_id).thank_you_url
    if configured is None:
        return THANKS_PATH
    domain = runtime.leads.sites[site_id].domain
    return f"https://{domain}{configured}" if configured.startswith("/") and domain else configured


@public.post(
    "",
    status_code=201,
    response_model=LeadAccepted,
    summary="Submit a lead (JSON or an HTML form post)",
    description="201 with the score, tier and follow-up due time once the lead is committed; "
    "form posts get 303 to the site's thank-you URL unless they accept JSON. An "
    "Idempotency-Key (or the form token) makes a retry return the first answer.",
    responses={
        303: {"description": "form post: redirect to the thank-you URL"},
        429: {"description": "over the per-IP or per-email limit; see Retry-After"},
    },
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/json": {"schema": _BODY_SCHEMA},
        "application/x-www-form-urlencoded": {"schema": _FORM_SCHEMA},
        "multipart/form-data": {"schema": _FORM_SCHEMA},
    }}},
)
async def submit_lead(
    request: Request,
    runtime: Runtime = Depends(get_runtime),
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", pattern=_IDEMPOTENCY_KEY)] = None,
) -> Response:
    data, is_form = await _read_body(request, runtime)
    settings = runtime.settings.leads
    honeypot = data.pop(settings.honeypot_field, None)
    unknown = [k for k in data if k not in KNOWN_FIELDS]
    if unknown:
        runtime.leads.metrics.unknown_fields.inc(len(unknown))
    _no_nul(data, "body")
    site_id = _site_id(runtime, data.get("site_id"))
    try:
        lead = LeadIn.model_validate(data)
    except ValidationError as exc:
        runtime.leads.metrics.rejected.labels("invalid").inc()
        fields = validation_fields([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
        raise ApiError(422, "the lead has invalid fields: " + ", ".join(fields), fields=fields) from None
    submission = Submission(
        lead=lead, site_id=site_id,
        ip=client_ip(request.scope, runtime.guard.trusted_proxies),
        idempotency_key=idempotency_key or lead.form_token,
        honeypot=str(honeypot) if honeypot not in (None, "") else None,
        synthetic=verify_marker(runtime.secret_key, request.headers.get(MARKER_HEADER)),
    )
    outcome: Outcome = await run_in_threadpool(runtime.leads.submit, submission)
    if outcome.status == 403:
        field = f"body.{outcome.blocked_field}"
        raise ApiError(403, "the submission was refused", fields={field: "refused by the security checks"})
    if outcome.status == 429:
        raise ApiError(429, "too many submissions; try again later",
                       headers={"Retry-After": str(outcome.retry_after or 60)})
    headers = {"Idempotent-Replayed": "true"} if outcome.replayed else None
    if is_form and "application/json" not in request.headers.get("accept", ""):
        return RedirectResponse(thank_you_url(runtime, site_id), status_code=303, headers=headers)
    body = LeadAccepted(id=outcome.lead_id, score=outcome.score, tier=outcome.tier,  # type: ignore[arg-type]
                        follow_up_due=outcome.follow_up_due)
    return JSONResponse(body.model_dump(mode="json"), status_code=201, headers=headers)


class FormToken(BaseModel):
    form_token: str
    honeypot_field: str
    min_submit_seconds: float


@public.get("/form-token", response_model=FormToken, summary="A token for a form being rendered")
async def form_token(
    site_id: Annotated[str | None, Query(max_length=63)] = None,
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    site = _site_id(runtime, site_id)
    settings = runtime.settings.leads
    body = FormToken(form_token=issue_form_token(runtime.secret_key, site, now()),
                     honeypot_field=settings.honeypot_field,
                     min_submit_seconds=settings.min_submit_seconds)
    # Any page may fetch one (the token is no secret); never cache: each is single-use.
    return JSONResponse(body.model_dump(), headers={"Cache-Control": "no-store",
                                                    "Access-Control-Allow-Origin": "*"})


@public.get("/thanks", response_class=HTMLResponse, summary="Default thank-you page")
async def thanks() -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html lang=en><meta charset=utf-8><title>Thank you</title>"
        "<p>Thank you, we have your message and will be in touch.</p></html>"
    )


# ---- admin ----

class ScoreFactor(BaseModel):
    score: float
    weight: float
    points: float


class LeadSummary(BaseModel):
    id: int
    site_id: str
    created_at: datetime
    status: str
    rejected_reason: str | None
    duplicate_of: int | None
    name: str
    email: str
    company: str | None
    channel: str | None
    score: int
    tier: str
    follow_up_due: datetime | None
    contacted_at: datetime | None
    flags: list[dict[str, str]] | None


class Activity(BaseModel):
    id: int
    at: datetime
    status: str
    note: str | None
    value: float | None


class LeadDetail(LeadSummary):
    phone: str | None
    company_size: str | None
    industry: str | None
    country: str | None
    budget: str | None
    message: str | None
    consent: dict[str, Any] | None
    page_url: str | None
    referrer: str | None
    utm_source: str | None
    utm_medium: str | None
    utm_campaign: str | None
    utm_term: str | None
    utm_content: str | None
    click_ids: dict[str, str] | None
    experiments: dict[str, str] | None
    touches: dict[str, Any] | None
    score_breakdown: dict[str, Any] | None
    model_version: str | None
    outcome_at: datetime | None
    won_value: float | None
    activities: list[Activity]


class LeadPage(BaseModel):
    total: int
    leads: list[LeadSummary]


def lead_filter(
    site: Annotated[str | None, Query(max_length=63)] = None,
    tier: Annotated[Literal["premium", "high", "standard", "low", "poor"] | None, Query()] = None,
    status: Annotated[Literal["new", "contacted", "qualified", "won", "lost"] | None, Query()] = None,
    window: OpenRange = Depends(time_range()),
    q: Annotated[str | None, Query(max_length=200, description="Text in name, email, company, message")] = None,
    rejected: Annotated[bool, Query(description="List rejected submissions instead of leads")] = False,
) -> LeadFilter:
    # The records keep aware UTC datetimes.
    since, until = (utc_aware(ts) if ts is not None else None for ts in window)
    return LeadFilter(site, tier, status, since, until, q.replace("\x00", "") if q else None, rejected)


@admin.get("", response_model=LeadPage, summary="List and search leads")
async def list_leads(
    where: LeadFilter = Depends(lead_filter),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> LeadPage:
    def read() -> LeadPage:
        with runtime.records.session() as session:
            total, rows = find_leads(session, where, limit, offset)
            return LeadPage(total=total, leads=[LeadSummary.model_validate(r, from_attributes=True) for r in rows])

    return await run_in_threadpool(read)


@admin.get("/export.csv", response_class=StreamingResponse, summary="Export leads as CSV")
async def export_leads(
    where: LeadFilter = Depends(lead_filter),
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> StreamingResponse:
    def lines() -> Any:
        with runtime.records.session() as session:
            yield from csv_lines(iter_leads(session, where))

    stamp = now().strftime("%Y%m%d-%H%M%S")
    return StreamingResponse(lines(), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="leads-{stamp}.csv"'})


class TierReport(BaseModel):
    tier: str
    leads: int
    qualified: int
    won: int
    won_value: float
    qualification_rate: float | None
    conversion_rate: float | None


class ScoringReport(BaseModel):
    tiers: list[TierReport]


@admin.get("/scoring-report", response_model=ScoringReport, summary="Outcomes per tier")
async def report(
    where: LeadFilter = Depends(lead_filter),
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> ScoringReport:
    def read() -> ScoringReport:
        with runtime.records.session() as session:
            return ScoringReport(tiers=[TierReport(**r) for r in scoring_report(session, where)])

    return await run_in_threadpool(read)


def _detail(session: Any, lead: Lead) -> LeadDetail:
    acts = [Activity.model_validate(a, from_attributes=True) for a in activities(session, lead.id)]
    return LeadDetail.model_validate({**{k: getattr(lead, k) for k in LeadDetail.model_fields
                                         if k != "activities"}, "activities": acts})


@admin.get("/{lead_id}", response_model=LeadDetail, summary="One lead with its score breakdown")
async def get_lead(
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> LeadDetail:
    def read() -> LeadDetail:
        with runtime.records.session() as session:
            lead = session.get(Lead, lead_id)
            if lead is None:
                raise ApiError(404, f"no lead {lead_id}", fields={"path.lead_id": "not found"})
            return _detail(session, lead)

    return await run_in_threadpool(read)


class FollowUpIn(BaseModel):
    status: Literal["contacted", "qualified", "won", "lost"]
    note: str | None = Field(None, max_length=5000)
    value: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False,
                                description="The deal's value; required for won")


@admin.post("/{lead_id}/followups", status_code=201, response_model=LeadDetail,
            summary="Record a follow-up or an outcome")
async def add_followup(
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
    followup: FollowUpIn,
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> LeadDetail:
    _no_nul(followup.note, "body.note")

    def write() -> LeadDetail:
        with runtime.records.session() as session:
            lead = session.get(Lead, lead_id, with_for_update=True)
            if lead is None:
                raise ApiError(404, f"no lead {lead_id}", fields={"path.lead_id": "not found"})
            try:
                record_followup(session, lead, followup.status, followup.note, followup.value)
            except FollowUpError as exc:
                place = "path.lead_id" if exc.field == "id" else f"body.{exc.field}"
                raise ApiError(409 if exc.conflict else 422, str(exc), fields={place: str(exc)}) from None
            return _detail(session, lead)

    return await run_in_threadpool(write)


@admin.post("/{lead_id}/restore", response_model=LeadDetail,
            summary="Restore a held-back submission as a lead",
            responses={409: {"description": "not held back for a reason a person may overrule "
                                            f"({', '.join(RESTORABLE)}), or the same person is a lead already"}})
async def restore_lead(
    lead_id: Annotated[int, Path(ge=1, le=2**62)],
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> LeadDetail:
    """A person judged it genuine: the spam checks or the SQL injection check were
    wrong. It becomes a lead, due for follow-up from now and routed to sales."""
    return await restore(runtime, lead_id, "api")


async def restore(runtime: Runtime, lead_id: int, actor: str) -> LeadDetail:
    """Restore for the API (``api``) and the Leads page (the logged-in user)."""

    def write() -> LeadDetail:
        try:
            lead = runtime.leads.restore(lead_id, actor=actor)
        except RestoreError as exc:
            raise ApiError(409, f"lead {lead_id}: {exc}", fields={"path.lead_id": str(exc)}) from None
        if lead is None:
            raise ApiError(404, f"no lead {lead_id}", fields={"path.lead_id": "not found"})
        with runtime.records.session() as session:
            return _detail(session, session.get_one(Lead, lead_id))

    return await run_in_threadpool(write)
