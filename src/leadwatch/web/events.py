"""Admin API for raw events: bulk import (for backfills and other collectors) and a
time series of any event type, the building block the dashboards reuse."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.concurrency import run_in_threadpool

from leadwatch.runtime import Runtime
from leadwatch.store.buffer import BufferFull
from leadwatch.store.queries import event_series
from leadwatch.store.schema import Event, utc_naive, utcnow
from leadwatch.web.deps import Range, get_runtime, require_scope, time_range
from leadwatch.web.errors import ERROR_RESPONSES, ApiError
from leadwatch.web.times import RequestTime

router = APIRouter(prefix="/api/v1/events", tags=["events"], responses=ERROR_RESPONSES)

MAX_BATCH = 10_000
MAX_PROPS_BYTES = 8192
MAX_FUTURE = timedelta(days=1)
MAX_BUCKETS = 5000
INTERVALS = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "1d": 86_400}

Short = Annotated[str | None, Field(default=None, max_length=128)]
Long = Annotated[str | None, Field(default=None, max_length=2048)]


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(max_length=63)
    ts: RequestTime | None = Field(None, description="When it happened (UTC if no offset); now if omitted.")
    type: str = Field(pattern=r"^[a-z][a-z0-9_.]{0,63}$", examples=["pageview"])
    name: Short = None
    visitor_id: Short = None
    session_id: Short = None
    path: Long = None
    referrer: Long = None
    channel: Short = None
    country: str | None = Field(None, pattern=r"^[A-Z]{2}$")
    device: Short = None
    browser: Short = None
    os: Short = None
    value: float | None = Field(None, allow_inf_nan=False)
    props: dict[str, Any] | None = None

    @field_validator("ts")
    @classmethod
    def _not_in_future(cls, ts: datetime | None) -> datetime | None:
        if ts is None:
            return None
        ts = utc_naive(ts)
        if ts > utcnow() + MAX_FUTURE:
            raise ValueError("must not be more than a day in the future")
        return ts

    @field_validator("props")
    @classmethod
    def _small(cls, props: dict[str, Any] | None) -> dict[str, Any] | None:
        if props is not None and len(orjson.dumps(props)) > MAX_PROPS_BYTES:
            raise ValueError(f"must encode to at most {MAX_PROPS_BYTES} bytes of JSON")
        return props or None


class Accepted(BaseModel):
    accepted: int


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    summary="Import a batch of events",
    description="Accepted events are written within the flush interval and always before "
    "a graceful shutdown completes. All or nothing: one invalid event rejects the batch.",
    responses={503: {"description": "the write buffer is full; retry after Retry-After"}},
)
async def import_events(
    events: Annotated[list[EventIn], Body(min_length=1, max_length=MAX_BATCH)],
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("ingest")),
) -> Any:
    unknown = {
        f"body[{i}].site_id": f"unknown site {e.site_id!r}"
        for i, e in enumerate(events)
        if e.site_id not in runtime.site_ids
    }
    if unknown:
        raise ApiError(422, "events name sites that are not configured", fields=unknown)
    now = utcnow()
    rows = [
        Event(**{**e.model_dump(exclude={"ts"}), "ts": e.ts or now}).row() for e in events
    ]
    try:
        runtime.event_buffer.add(rows)
    except BufferFull as exc:
        raise ApiError(503, f"not accepted: {exc}", headers={"Retry-After": "5"}) from None
    return JSONResponse({"accepted": len(rows)}, status_code=202)


class Bucket(BaseModel):
    ts: datetime
    events: int
    p50: float | None
    p75: float | None
    p95: float | None


class Series(BaseModel):
    site: str
    interval: str
    start: datetime
    end: datetime
    buckets: list[Bucket]


@router.get("/series", response_model=Series, summary="Event counts and value percentiles over time")
async def series(
    site: Annotated[str, Query(max_length=63)],
    runtime: Runtime = Depends(get_runtime),
    _scope: str = Depends(require_scope("admin")),
    type: Annotated[str | None, Query(max_length=64)] = None,
    name: Annotated[str | None, Query(max_length=128)] = None,
    window: Range = Depends(time_range(span=timedelta(days=1))),
    interval: Literal["1m", "5m", "15m", "1h", "1d"] = "1h",
) -> Series:
    if site not in runtime.site_ids:
        raise ApiError(404, f"unknown site {site!r}", fields={"query.site": "unknown site"})
    start_ts, end_ts = window
    seconds = INTERVALS[interval]
    if math.ceil((end_ts - start_ts).total_seconds() / seconds) > MAX_BUCKETS:
        raise ApiError(
            422,
            f"the range holds more than {MAX_BUCKETS} buckets of {interval}",
            fields={"query.interval": f"too fine for this range (max {MAX_BUCKETS} buckets)"},
        )
    rows = await run_in_threadpool(
        event_series,
        runtime.events,
        site_id=site,
        start=start_ts,
        end=end_ts,
        interval_seconds=seconds,
        type=type,
        name=name,
    )
    return Series(
        site=site,
        interval=interval,
        start=start_ts,
        end=end_ts,
        buckets=[Bucket(ts=r["bucket"], **{k: r[k] for k in ("events", "p50", "p75", "p95")}) for r in rows],
    )
