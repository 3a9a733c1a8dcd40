"""HTTP API of the security capability: the UI login session, and the admin API for
incidents (an analyst's verdicts), bans and the summary the business tracks."""

from __future__ import annotations

from datetime import datetime, timedelta
from ipaddress import ip_address
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from leadwatch.runtime import Runtime
from leadwatch.security import bans as ban_store
from leadwatch.security import incidents
from leadwatch.security.clients import client_ip, is_address
from leadwatch.security.detect import Threat
from leadwatch.security.headers import is_https
from leadwatch.security.models import INCIDENT_STATES, IncidentStatus, SecurityIncident, SeverityName
from leadwatch.security.queries import INCIDENT_EVENTS, incident_events, security_event_counts
from leadwatch.security.sessions import (
    COOKIE,
    CurrentUser,
    LoginLocked,
    authenticate,
    close_session,
    csrf_token,
    open_session,
    require_user,
    sign_session,
)
from leadwatch.store.schema import utc_aware
from leadwatch.web.deps import Range, get_runtime, require_scope, time_range
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

session_router = APIRouter(prefix="/api/v1/session", tags=["session"], responses=ERROR_RESPONSES)
router = APIRouter(prefix="/api/v1/security", tags=["security"], responses=ERROR_RESPONSES,
                   dependencies=[Depends(require_scope("admin"))])


# ---- the UI session ----------------------------------------------------------------------


class Login(BaseModel):
    username: str = Field(min_length=1, max_length=150)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description="Send it as X-CSRF-Token with every unsafe request.")


async def log_in(runtime: Runtime, request: Request, username: str, password: str) -> CurrentUser:
    """Check a login as every login is checked (lockout with backoff, the argon2 hash,
    credential stuffing counted) and open a session for the user. ApiError 401 when
    wrong, 429 with Retry-After while the account is locked."""
    guard = runtime.guard
    ip = client_ip(request.scope, guard.trusted_proxies)
    settings = runtime.settings.security

    def check() -> CurrentUser | None:
        with runtime.records.session() as session:
            user = authenticate(session, settings, username, password)
            if user is None:
                return None
            session_id = open_session(session, settings, user, ip).id
            return CurrentUser(user.id, user.username, user.role, session_id,
                               csrf_token(runtime.secret_key, session_id))

    try:
        user = await run_in_threadpool(check)
    except LoginLocked as exc:
        raise ApiError(429, "too many failed logins: try again later",
                       headers={"Retry-After": str(max(1, int(exc.retry_after) + 1))}) from None
    if user is None:
        await run_in_threadpool(guard.login_failure, guard.site_id, ip, username)
        raise ApiError(401, "wrong username or password", fields={"body.password": "wrong username or password"})
    return user


def set_session_cookie(response: Response, runtime: Runtime, request: Request, session_id: str) -> None:
    settings = runtime.settings.security
    response.set_cookie(
        COOKIE, sign_session(runtime.secret_key, session_id),
        max_age=settings.session_max_age_seconds, httponly=True, samesite="lax", path="/",
        secure=_secure_cookie(settings.session_cookie_secure, request, runtime.guard.trusted_proxies),
    )


async def log_out(runtime: Runtime, user: CurrentUser, response: Response) -> None:
    """End ``user``'s session: its row and the cookie on ``response``."""
    def close() -> None:
        with runtime.records.session() as session:
            close_session(session, user.session_id)

    await run_in_threadpool(close)
    response.delete_cookie(COOKIE, path="/")


@session_router.post("", response_model=SessionOut, summary="Log in (sets the session cookie)",
                     responses={429: {"description": "the account is locked for a while; see Retry-After"}})
async def login(body: Login, request: Request, response: Response,
                runtime: Runtime = Depends(get_runtime)) -> SessionOut:
    user = await log_in(runtime, request, body.username, body.password)
    set_session_cookie(response, runtime, request, user.session_id)
    return SessionOut(username=user.username, role=user.role, csrf_token=user.csrf_token)


def _secure_cookie(mode: str, request: Request, trusted: Any) -> bool:
    return mode == "always" or (mode == "auto" and is_https(request.scope, trusted))


@session_router.get("", response_model=SessionOut, summary="The logged-in user and the CSRF token")
async def whoami(user: CurrentUser = Depends(require_user)) -> SessionOut:
    return SessionOut(username=user.username, role=user.role, csrf_token=user.csrf_token)


@session_router.delete("", status_code=204, summary="Log out (needs X-CSRF-Token)")
async def logout(user: CurrentUser = Depends(require_user), runtime: Runtime = Depends(get_runtime)) -> Response:
    response = Response(status_code=204)
    await log_out(runtime, user, response)
    return response


# ---- incidents ---------------------------------------------------------------------------


class IncidentOut(BaseModel):
    id: int
    site_id: str
    ip: str
    threat: str
    severity: str
    status: str
    events: int
    contained: int
    first_seen_at: datetime
    detected_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    note: str | None
    last_evidence: str | None

    model_config = {"from_attributes": True}


@router.get("/incidents", response_model=list[IncidentOut], summary="Security incidents, newest first")
async def list_incidents(
    runtime: Runtime = Depends(get_runtime),
    status: IncidentStatus | None = None,
    site: Annotated[str | None, Query(max_length=63)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    threat: Threat | None = None,
    severity: SeverityName | None = None,
    ip: Annotated[str | None, Query(max_length=45, description="One client address: its incidents.")] = None,
) -> list[IncidentOut]:
    if ip is not None and not is_address(ip):
        raise ApiError(422, f"{ip!r} is not an IP address", fields={"query.ip": "not an IP address"})

    def fetch() -> list[IncidentOut]:
        query = select(SecurityIncident).order_by(SecurityIncident.id.desc()).limit(limit)
        if status:
            query = query.where(SecurityIncident.status == status)
        if site:
            query = query.where(SecurityIncident.site_id == site)
        if threat:
            query = query.where(SecurityIncident.threat == str(threat))
        if severity:
            query = query.where(SecurityIncident.severity == severity)
        if ip:
            # As written (an X-Forwarded-For hop) or canonical (a socket's peer).
            query = query.where(SecurityIncident.ip.in_({ip, str(ip_address(ip))}))
        with runtime.records.session() as session:
            return [IncidentOut.model_validate(i) for i in session.scalars(query)]

    return await run_in_threadpool(fetch)


class Verdict(BaseModel):
    status: Literal["resolved", "benign_positive", "false_positive"] = Field(
        description="resolved: an attack, dealt with; benign_positive: detected rightly, but harmless (a "
                    "client's own pasted tag); false_positive: the detector was wrong (counts in the FP rate). "
                    "Both of the latter lift the incident's automatic bans.")
    note: str | None = Field(None, max_length=2000)
    by: str = Field("analyst", min_length=1, max_length=150, description="Who decided.")


@router.post("/incidents/{incident_id}", response_model=IncidentOut,
             summary="Judge an incident: resolved, benign positive or false positive",
             responses={404: {"description": "no such incident"}})
async def judge_incident(incident_id: Annotated[int, Path(ge=1, le=2**31 - 1)], verdict: Verdict,
                         runtime: Runtime = Depends(get_runtime)) -> IncidentOut:
    assert verdict.status in INCIDENT_STATES
    incident = await run_in_threadpool(incidents.mark, runtime.records, incident_id, verdict.status,
                                       verdict.by, verdict.note)
    if incident is None:
        raise ApiError(404, f"no incident {incident_id}", fields={"path.incident_id": "no such incident"})
    if verdict.status in incidents.LIFTS_BANS:  # its automatic bans were lifted: not refused here from now
        await run_in_threadpool(runtime.guard.bans.reload)
    return IncidentOut.model_validate(incident)


class IncidentEvent(BaseModel):
    ts: datetime
    action: str | None
    source: str | None
    field: str | None = Field(description="Where in the request: path, query.id, form.message, …")
    rule: str | None = Field(description="The rule that matched (rules.yaml id, libinjection.*, rate.*).")
    evidence: str | None = Field(description="What matched: an excerpt of the input, or a fingerprint.")
    sample: str | None = Field(None, description="The input as sent (an excerpt), when the evidence is not it.")
    path: str | None


class IncidentDetail(IncidentOut):
    recent_events: list[IncidentEvent] = Field(
        description=f"Its events, newest first (at most {INCIDENT_EVENTS}): the evidence.")


@router.get("/incidents/{incident_id}", response_model=IncidentDetail,
            summary="One incident with its events (what was detected, where, by which rule)",
            responses={404: {"description": "no such incident"}})
async def get_incident(incident_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                       runtime: Runtime = Depends(get_runtime)) -> IncidentDetail:
    def fetch() -> IncidentDetail | None:
        with runtime.records.session() as session:
            incident = session.get(SecurityIncident, incident_id)
            if incident is None:
                return None
            detail = IncidentOut.model_validate(incident)
        ip = None if detail.ip == incidents.NO_IP else detail.ip
        rows = incident_events(runtime.events, detail.site_id, ip, detail.threat,
                               detail.first_seen_at, detail.last_seen_at)
        return IncidentDetail(**detail.model_dump(), recent_events=[IncidentEvent(**r) for r in rows])

    found = await run_in_threadpool(fetch)
    if found is None:
        raise ApiError(404, f"no incident {incident_id}", fields={"path.incident_id": "no such incident"})
    return found


# ---- bans --------------------------------------------------------------------------------


class BanOut(BaseModel):
    id: int
    network: str
    reason: str
    threat: str | None
    created_by: str
    created_at: datetime
    expires_at: datetime

    model_config = {"from_attributes": True}


class BanIn(BaseModel):
    address: str = Field(max_length=64, description="An IP address or a network (CIDR).")
    seconds: int = Field(3600, ge=1, le=365 * 86_400, description="How long the ban lasts.")
    reason: str = Field("banned by hand", min_length=1, max_length=500)


@router.get("/bans", response_model=list[BanOut], summary="Bans in force now")
async def list_bans(runtime: Runtime = Depends(get_runtime)) -> list[BanOut]:
    bans = await run_in_threadpool(ban_store.active_bans, runtime.records)
    return [BanOut.model_validate(b) for b in bans]


@router.post("/bans", response_model=BanOut, status_code=201, summary="Ban an address or network",
             responses={422: {"description": "not an address or network, wider than a /16 (IPv4) or "
                                             "/32 (IPv6), or holding the caller's own address"}})
async def add_ban(body: BanIn, request: Request, runtime: Runtime = Depends(get_runtime)) -> BanOut:
    return await ban_address(runtime, body, "api", request)


async def ban_address(runtime: Runtime, body: BanIn, created_by: str, request: Request) -> BanOut:
    """Ban now (the API as ``api``, the Security page as the logged-in user), unless the
    ban would refuse the very client asking for it (behind an unlisted proxy, every
    request has the proxy's address: banning it bans everyone)."""
    try:
        network = ban_store.parse_ban(body.address, runtime.guard.never_ban)
    except ValueError as exc:
        raise ApiError(422, str(exc), fields={"body.address": str(exc)}) from None
    own = client_ip(request.scope, runtime.guard.trusted_proxies)
    if is_address(own) and ip_address(own) in network:
        raise ApiError(422, f"{network} holds your own address {own}: it would refuse you too",
                       fields={"body.address": "holds your own address"})
    ban = await run_in_threadpool(lambda: runtime.guard.bans.ban(
        str(network), seconds=body.seconds, reason=body.reason, threat=None, created_by=created_by))
    return BanOut.model_validate(ban)


@router.delete("/bans/{address:path}", status_code=204, summary="Lift the bans of an address or network",
               responses={404: {"description": "no ban in force for it"}})
async def lift_ban(address: str, runtime: Runtime = Depends(get_runtime)) -> Response:
    try:
        lifted = await run_in_threadpool(ban_store.lift_bans, runtime.records, address)
    except ValueError as exc:
        raise ApiError(422, str(exc), fields={"path.address": "not an IP address or network"}) from None
    if not lifted:
        raise ApiError(404, f"no ban in force for {address}", fields={"path.address": "not banned"})
    await run_in_threadpool(runtime.guard.bans.reload)
    return Response(status_code=204)


# ---- summary -----------------------------------------------------------------------------


class Summary(BaseModel):
    start: datetime
    end: datetime
    incidents: int
    open: int
    by_severity: dict[str, int]
    by_threat: dict[str, int]
    by_status: dict[str, int]
    mttd_seconds: float | None = Field(description="Mean time from the first malicious event to detection.")
    mttr_seconds: float | None = Field(
        description="Mean time from detection to resolution (incidents judged resolved or benign positive).")
    false_positive_rate: float | None = Field(
        description="Share of the incidents marked false positive (benign positives were detected rightly).")
    events: dict[str, dict[str, int]] = Field(description="Security events: threat -> action -> count.")
    bans_active: int


@router.get("/summary", response_model=Summary, summary="Incidents, MTTD, MTTR, false positives, events")
async def security_summary(
    runtime: Runtime = Depends(get_runtime),
    site: Annotated[str | None, Query(max_length=63)] = None,
    window: Range = Depends(time_range(span=timedelta(days=7))),
) -> Summary:
    if site is not None and site not in runtime.site_ids:
        raise ApiError(404, f"unknown site {site!r}", fields={"query.site": "unknown site"})
    # The records keep aware UTC datetimes.
    start_ts, end_ts = utc_aware(window[0]), utc_aware(window[1])

    def gather() -> dict[str, Any]:
        data = incidents.summary(runtime.records, site, start_ts, end_ts)
        data["events"] = security_event_counts(runtime.events, site, start_ts, end_ts)
        data["bans_active"] = len(ban_store.active_bans(runtime.records))
        return data

    return Summary(start=start_ts, end=end_ts, **await run_in_threadpool(gather))
