"""The synthetic API: journeys with their state and SLOs, runs with their steps,
locations (admin); the probe's journeys and result push (ingest tokens)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from leadwatch.runtime import Runtime
from leadwatch.store.buffer import BufferFull
from leadwatch.store.schema import utcnow
from leadwatch.synthetic import queries
from leadwatch.synthetic.journey import Journey
from leadwatch.synthetic.monitor import SyntheticMonitor
from leadwatch.synthetic.results import RunResult
from leadwatch.synthetic.state import Status
from leadwatch.web.deps import Range, get_runtime, require_scope, time_range
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(prefix="/api/v1/synthetic", tags=["synthetic"], responses=ERROR_RESPONSES)

LOCATION = r"^[a-z0-9][a-z0-9-]{0,31}$"
MAX_FUTURE = timedelta(minutes=10)
PROBE_MARKER_TTL = 3600.0


def _status(status: Status) -> dict[str, Any]:
    return {"state": status.state.value, "severity": status.severity,
            "consecutive_failures": status.failures, "since": status.since,
            "last_run": status.last_run, "last_error": status.last_error}


def journey_summary(monitor: SyntheticMonitor, journey: Journey,
                    ratios: dict[str, dict[str, Any]]) -> dict[str, Any]:
    states = monitor.journey_states(journey.name)
    overall = monitor.overall_state(journey.name)
    windows = ratios.get(journey.name, {})
    return {
        "name": journey.name,
        "title": journey.display,
        "site": journey.site,
        "frequency_seconds": journey.frequency,
        "timeout_seconds": journey.timeout,
        "slo": journey.slo,
        "thresholds": journey.thresholds.model_dump(),
        "locations": journey.locations or monitor.settings.locations,
        "steps": [{"name": s.name, "kind": s.kind} for s in journey.steps],
        "state": overall.value if overall else None,
        "by_location": {loc: _status(s) for loc, s in sorted(states.items())},
        "success_ratio": {
            key: {**w, "meets_slo": None if w["ratio"] is None else w["ratio"] * 100 >= journey.slo}
            for key, w in windows.items()
        },
    }


@router.get("/journeys", summary="Journeys with their state per location and SLO ratios")
async def journeys(
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> dict[str, Any]:
    monitor = runtime.synthetic
    ratios = await run_in_threadpool(queries.success_ratios, runtime.events, utcnow())
    return {
        "journeys": [journey_summary(monitor, j, ratios) for j in monitor.catalog.journeys],
        "locations": monitor.locations(),
    }


@router.get("/runs", summary="Recent runs, newest first, with their steps")
async def runs(
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
    journey: Annotated[str | None, Query(max_length=63)] = None,
    location: Annotated[str | None, Query(pattern=LOCATION)] = None,
    # A second ahead: a run recorded this instant falls inside the default [from, to).
    window: Range = Depends(time_range(span=timedelta(days=1), ahead=timedelta(seconds=1))),
    failed: Annotated[bool, Query(description="Only failed runs.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    if journey is not None and runtime.synthetic.catalog.get(journey) is None:
        raise ApiError(404, f"unknown journey {journey!r}", fields={"query.journey": "unknown journey"})
    start, end = window
    found = await run_in_threadpool(
        queries.recent_runs, runtime.events, start=start, end=end, journey=journey,
        location=location, failed_only=failed, limit=limit,
    )
    return {"runs": found}


@router.get("/locations", summary="Locations and their dead-man switch")
async def locations(
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
) -> dict[str, Any]:
    return {"locations": runtime.synthetic.locations(),
            "dead_after_seconds": runtime.synthetic.settings.dead_after_seconds}


def _known_location(runtime: Runtime, location: str, field: str) -> None:
    allowed = runtime.synthetic.settings.locations
    if location not in allowed:
        raise ApiError(422, f"location {location!r} is not in synthetic.locations",
                       fields={field: f"must be one of {', '.join(allowed)}"})


@router.get("/probe", summary="A remote probe's journeys, variables and synthetic-lead marker")
async def probe_config(
    location: Annotated[str, Query(pattern=LOCATION)],
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("ingest")),
) -> dict[str, Any]:
    _known_location(runtime, location, "query.location")
    monitor = runtime.synthetic
    monitor.heartbeat(location)
    marker_id, marker = monitor.marker(f"probe:{location}:{uuid.uuid4().hex[:16]}", PROBE_MARKER_TTL)
    return {
        "location": location,
        "journeys": [j.model_dump(mode="json", by_alias=True, exclude_none=True)
                     for j in monitor.catalog.at(location)],
        "variables": monitor.catalog.variables,
        "marker_id": marker_id,
        "marker": marker,
        "marker_ttl_seconds": PROBE_MARKER_TTL,
    }


@router.post("/results", status_code=202, summary="Record a run made by a remote probe",
             responses={503: {"description": "the write buffer is full; retry after Retry-After"}})
async def push_result(
    result: RunResult,
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("ingest")),
) -> JSONResponse:
    monitor = runtime.synthetic
    _known_location(runtime, result.location, "body.location")
    journey = monitor.catalog.get(result.journey)
    if journey is None or not journey.runs_at(result.location):
        raise ApiError(422, f"no journey {result.journey!r} runs at {result.location!r}",
                       fields={"body.journey": "unknown journey at this location"})
    if result.site_id != journey.site:
        raise ApiError(422, "site_id differs from the journey's site",
                       fields={"body.site_id": f"must be {journey.site!r}"})
    if result.started > utcnow() + MAX_FUTURE:
        raise ApiError(422, "started is in the future", fields={"body.started": "in the future"})
    try:
        change = await run_in_threadpool(monitor.record, result)
    except BufferFull as exc:
        raise ApiError(503, f"not recorded: {exc}", headers={"Retry-After": "5"}) from None
    status = monitor.tracker.status(result.journey, result.location)
    return JSONResponse(
        {"recorded": result.run_id, "state": status.state.value if status else None,
         "changed": change is not None},
        status_code=202,
    )
