"""HTTP: alerts, incidents (acknowledge / resolve, also through signed links),
silences and maintenance windows, SLOs, and Alertmanager's webhook."""

from __future__ import annotations

import html
import math
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from starlette.concurrency import run_in_threadpool

from leadwatch.alerting import silences
from leadwatch.alerting.evaluator import Evaluator
from leadwatch.alerting.incidents import FiringAlert, link_valid, response_times
from leadwatch.alerting.models import Incident, Silence
from leadwatch.alerting.slo import report
from leadwatch.runtime import Runtime
from leadwatch.store.schema import utc_aware
from leadwatch.web.deps import get_runtime, require_scope
from leadwatch.web.errors import ERROR_RESPONSES, ApiError
from leadwatch.web.times import RequestTime

router = APIRouter(prefix="/api/v1", tags=["alerting"], responses=ERROR_RESPONSES)
Admin = Depends(require_scope("admin"))
IncidentId = Annotated[int, Path(ge=1, le=2**31 - 1)]
Action = Literal["acknowledge", "resolve"]


def _evaluator(runtime: Runtime) -> Evaluator:
    return runtime.alerting


# ---- alerts and SLOs ----

@router.get("/alerts", summary="Alerts the embedded evaluator finds pending or firing")
async def list_alerts(runtime: Runtime = Depends(get_runtime), _: str = Admin) -> dict[str, Any]:
    return {"alerts": [
        {"labels": v.labels, "annotations": v.annotations, "state": v.state,
         "active_since": v.active_since, "value": None if math.isnan(v.value) else v.value,
         "silenced": v.silenced, "inhibited": v.inhibited}
        for v in _evaluator(runtime).alerts()
    ]}


@router.get("/slos", summary="Each SLO: SLI, error budget, budget remaining, burn rates")
async def list_slos(runtime: Runtime = Depends(get_runtime), _: str = Admin) -> dict[str, Any]:
    evaluator = _evaluator(runtime)
    at = evaluator.clock().timestamp()
    return {"slos": [report(slo, evaluator.history, at) for slo in evaluator.catalogue.slos]}


# ---- incidents ----

def _incident(incident: Incident, timeline: bool = False) -> dict[str, Any]:
    data = {
        "id": incident.id, "title": incident.title, "severity": incident.severity, "service": incident.service,
        "status": incident.status, "source": incident.source, "dedup_key": incident.dedup_key,
        "group_labels": incident.group_labels, "alerts": incident.alerts, "runbook_url": incident.runbook_url,
        "started_at": incident.started_at, "opened_at": incident.opened_at,
        "acknowledged_at": incident.acknowledged_at, "acknowledged_by": incident.acknowledged_by,
        "resolved_at": incident.resolved_at, "escalation_step": incident.next_step,
        "next_escalation_at": incident.next_step_at, "notified": incident.notified,
    }
    if timeline:
        data["timeline"] = [{"at": t.at, "kind": t.kind, "message": t.message, "actor": t.actor}
                            for t in incident.timeline]
    return data


@router.get("/incidents", summary="Incidents, newest first")
async def list_incidents(
    runtime: Runtime = Depends(get_runtime),
    _: str = Admin,
    status: Literal["open", "acknowledged", "resolved"] | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    def load() -> list[dict[str, Any]]:
        with runtime.records.session() as session:
            query = select(Incident).order_by(Incident.id.desc()).limit(limit)
            if status:
                query = query.where(Incident.status == status)
            return [_incident(i) for i in session.scalars(query)]

    return {"incidents": await run_in_threadpool(load)}


@router.get("/incidents/stats", summary="MTTD, MTTA and MTTR of recent incidents")
async def incident_stats(
    runtime: Runtime = Depends(get_runtime),
    _: str = Admin,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
) -> dict[str, Any]:
    def load() -> dict[str, Any]:
        with runtime.records.session() as session:
            return {"days": days, **response_times(session, datetime.now(UTC) - timedelta(days=days))}

    return await run_in_threadpool(load)


@router.get("/incidents/{incident_id}", summary="One incident with its timeline")
async def get_incident(incident_id: IncidentId, runtime: Runtime = Depends(get_runtime), _: str = Admin) -> Any:
    def load() -> dict[str, Any] | None:
        with runtime.records.session() as session:
            incident = session.scalar(
                select(Incident).where(Incident.id == incident_id).options(selectinload(Incident.timeline))
            )
            return _incident(incident, timeline=True) if incident else None

    found = await run_in_threadpool(load)
    if found is None:
        raise ApiError(404, f"no incident {incident_id}", fields={"path.incident_id": "unknown incident"})
    return found


class ActBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str = Field("api", min_length=1, max_length=150, description="Who acts (shown in the timeline).")


async def _act(runtime: Runtime, incident_id: int, action: str, actor: str) -> dict[str, Any]:
    incidents = _evaluator(runtime).incidents
    act = incidents.acknowledge if action == "acknowledge" else incidents.resolve
    incident = await run_in_threadpool(act, incident_id, actor)
    if incident is None:
        raise ApiError(404, f"no incident {incident_id}", fields={"path.incident_id": "unknown incident"})
    return {"id": incident.id, "status": incident.status}


@router.post("/incidents/{incident_id}/{action}", summary="Acknowledge (stops escalation) or resolve an incident")
async def act_on_incident(
    incident_id: IncidentId,
    action: Action,
    body: ActBody | None = None,
    runtime: Runtime = Depends(get_runtime),
    _: str = Admin,
) -> dict[str, Any]:
    return await _act(runtime, incident_id, action, (body or ActBody()).by)


def _check_link(runtime: Runtime, incident_id: int, action: str, expires: int, sig: str) -> None:
    if not link_valid(runtime.secret_key, incident_id, action, expires, sig, datetime.now(UTC)):
        raise ApiError(403, "the link is not valid or has expired", fields={"query.sig": "invalid or expired"})


LinkExpires = Annotated[int, Query(ge=0, le=2**40)]
LinkSig = Annotated[str, Query(min_length=64, max_length=64, pattern="^[0-9a-f]{64}$")]


@router.get("/incidents/{incident_id}/{action}/link", response_class=HTMLResponse,
            summary="The page a signed link in a notification opens: confirm with one click")
async def link_page(incident_id: IncidentId, action: Action, expires: LinkExpires, sig: LinkSig,
                    runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    # A GET never acts: mail scanners and chat previews fetch links on their own.
    _check_link(runtime, incident_id, action, expires, sig)
    query = html.escape(f"expires={expires}&sig={sig}")
    return HTMLResponse(
        f"<!doctype html><title>{action} incident {incident_id}</title>"
        f"<form method=post action='link?{query}'><p>{action.capitalize()} incident {incident_id}?</p>"
        f"<button type=submit>{action.capitalize()}</button></form>"
    )


@router.post("/incidents/{incident_id}/{action}/link", summary="Act through a signed link (no token needed)")
async def link_act(incident_id: IncidentId, action: Action, expires: LinkExpires, sig: LinkSig,
                   runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    _check_link(runtime, incident_id, action, expires, sig)
    return await _act(runtime, incident_id, action, "signed link")


# ---- silences and maintenance windows ----

class SilenceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    matchers: list[str] = Field(min_length=1, max_length=20, examples=[["service=web", 'alertname=~"WebVitals.*"']])
    starts_at: RequestTime | None = Field(None, description="Default: now.")
    ends_at: RequestTime | None = Field(None, description="Give ends_at or duration_seconds.")
    duration_seconds: int | None = Field(None, ge=60, le=90 * 86_400)
    comment: str = Field(min_length=1, max_length=500)
    created_by: str = Field("api", min_length=1, max_length=150)
    kind: Literal["silence", "maintenance"] = "silence"


def _silence(s: Silence) -> dict[str, Any]:
    return {"id": s.id, "kind": s.kind, "matchers": [f"{a}{op}{v}" for a, op, v in s.matchers],
            "starts_at": s.starts_at, "ends_at": s.ends_at, "comment": s.comment,
            "created_by": s.created_by, "expired_at": s.expired_at}


@router.get("/silences", summary="Active and scheduled silences and maintenance windows")
async def list_silences(runtime: Runtime = Depends(get_runtime), _: str = Admin,
                        expired: bool = False) -> dict[str, Any]:
    def load() -> list[dict[str, Any]]:
        with runtime.records.session() as session:
            return [_silence(s) for s in silences.listed(session, datetime.now(UTC), expired)]

    return {"silences": await run_in_threadpool(load)}


@router.post("/silences", status_code=201, summary="Silence matching alerts, or plan a maintenance window")
async def create_silence(body: SilenceIn, runtime: Runtime = Depends(get_runtime), _: str = Admin) -> dict[str, Any]:
    try:
        matchers = [silences.parse_matcher(m) for m in body.matchers]
    except silences.SilenceError as exc:
        raise ApiError(422, str(exc), fields={"body.matchers": str(exc)}) from None
    start = utc_aware(body.starts_at) if body.starts_at else datetime.now(UTC)
    if (body.ends_at is None) == (body.duration_seconds is None):
        raise ApiError(422, "give either ends_at or duration_seconds",
                       fields={"body.ends_at": "give either ends_at or duration_seconds"})
    end = utc_aware(body.ends_at) if body.ends_at else start + timedelta(seconds=body.duration_seconds or 0)
    if end <= start:
        raise ApiError(422, "ends_at must be after starts_at", fields={"body.ends_at": "must be after starts_at"})

    def save() -> dict[str, Any]:
        with runtime.records.session() as session:
            return _silence(silences.create(session, matchers, start, end, body.comment, body.created_by, body.kind))

    return await run_in_threadpool(save)


@router.delete("/silences/{silence_id}", summary="Expire a silence now")
async def expire_silence(silence_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
                         runtime: Runtime = Depends(get_runtime), _: str = Admin) -> dict[str, Any]:
    def save() -> bool:
        with runtime.records.session() as session:
            return silences.expire(session, silence_id, datetime.now(UTC))

    if not await run_in_threadpool(save):
        raise ApiError(404, f"no active silence {silence_id}", fields={"path.silence_id": "unknown or expired"})
    return {"id": silence_id, "expired": True}



# ---- Alertmanager ----

class AMAlert(BaseModel):
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = {}
    startsAt: RequestTime  # noqa: N815 - Alertmanager's field names
    # Unused; Alertmanager sends 0001-01-01T00:00:00Z (its zero time) while an alert fires.
    endsAt: datetime | None = None  # noqa: N815
    generatorURL: str | None = None  # noqa: N815
    fingerprint: str | None = None


class AMPayload(BaseModel):
    """Alertmanager's webhook payload, version 4."""

    version: Literal["4"]
    groupKey: str  # noqa: N815
    truncatedAlerts: int = 0  # noqa: N815
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[str, str]  # noqa: N815
    commonLabels: dict[str, str] = {}  # noqa: N815
    commonAnnotations: dict[str, str] = {}  # noqa: N815
    externalURL: str | None = None  # noqa: N815
    alerts: list[AMAlert] = Field(max_length=10_000)


@router.post("/alertmanager/webhook", summary="Alertmanager's webhook (payload version 4): opens and resolves incidents")
async def alertmanager_webhook(payload: AMPayload, runtime: Runtime = Depends(get_runtime),
                               _: str = Depends(require_scope("ingest"))) -> dict[str, Any]:
    incidents = _evaluator(runtime).incidents
    firing = [FiringAlert(a.labels, a.annotations, utc_aware(a.startsAt) if a.startsAt else datetime.now(UTC))
              for a in payload.alerts if a.status == "firing"]

    def apply() -> Incident | None:
        if firing:
            incident = incidents.firing(payload.groupLabels, firing, "alertmanager")
            incidents.escalate_due()  # the first step is due at once: don't wait for the next tick
            return incident
        return incidents.group_resolved(payload.groupLabels)

    incident = await run_in_threadpool(apply)
    return {"incident": incident.id if incident else None, "status": incident.status if incident else None}

