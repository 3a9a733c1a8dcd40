"""``POST /api/v1/logs`` for shippers and ``GET /api/v1/logs`` for searching."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from leadwatch.logs.parse import Format
from leadwatch.logs.record import DATASETS
from leadwatch.logs.search import FACETS, MAX_LIMIT, SearchError, filters, search
from leadwatch.runtime import Runtime
from leadwatch.store.buffer import BufferFull
from leadwatch.web.deps import OpenRange, get_runtime, require_scope, time_range
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(prefix="/api/v1/logs", tags=["logs"], responses=ERROR_RESPONSES)


class Accepted(BaseModel):
    accepted: int
    dead_letters: int
    datasets: dict[str, int]


@router.post(
    "",
    status_code=202,
    summary="Ingest log lines (NDJSON or plain lines), as shippers send them",
    dependencies=[Depends(require_scope("ingest"))],
    responses={503: {"description": "the write buffer is full; retry after Retry-After"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/plain": {"schema": {"type": "string"}},
            },
        }
    },
)
async def ingest(
    request: Request,
    site: Annotated[str, Query(max_length=63, description="Site id of the records.")] = "default",
    format: Annotated[Format, Query(description="Line format; auto decides per line.")] = "auto",
    runtime: Runtime = Depends(get_runtime),
) -> Accepted:
    """One log line per body line: JSON objects (nginx JSON or application logs) or
    access-log text. Lines that do not parse are kept as dead letters and counted."""
    if site not in runtime.site_ids:
        raise ApiError(422, f"unknown site {site!r}", fields={"query.site": f"unknown site {site!r}"})
    body = await request.body()
    lines = [line for line in body.decode("utf-8", "backslashreplace").splitlines() if line.strip()]
    if not lines:
        raise ApiError(422, "the body holds no log lines", fields={"body": "no log lines"})
    try:
        result = await run_in_threadpool(
            runtime.logs.pipeline.process, lines, site_id=site, fmt=format
        )
    except BufferFull:
        raise ApiError(503, "the write buffer is full; retry later", headers={"Retry-After": "5"}) from None
    return Accepted(
        accepted=result.lines, dead_letters=result.dead_letters, datasets=dict(result.datasets)
    )


@router.get(
    "",
    summary="Search log records: newest first, with facet counts and a histogram",
    dependencies=[Depends(require_scope("admin"))],
)
async def search_logs(
    q: Annotated[str, Query(max_length=2000, description="Query, e.g. status>=500 path:/contact*")] = "",
    dataset: Annotated[str | None, Query(description=f"One of {', '.join(DATASETS)}.")] = None,
    site: Annotated[str | None, Query(max_length=63)] = None,
    window: OpenRange = Depends(time_range(from_doc="ISO 8601, inclusive.", to_doc="ISO 8601, exclusive.")),
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    facets: Annotated[str, Query(description="Comma-separated facet fields.")] = ",".join(FACETS),
    runtime: Runtime = Depends(get_runtime),
) -> JSONResponse:
    if dataset is not None and dataset not in DATASETS:
        raise ApiError(422, "unknown dataset", fields={"query.dataset": f"must be one of {', '.join(DATASETS)}"})
    wanted = tuple(f for f in facets.split(",") if f)
    unknown = [f for f in wanted if f not in FACETS]
    if unknown:
        raise ApiError(422, "unknown facet", fields={"query.facets": f"must be among {', '.join(FACETS)}"})
    try:
        where = filters(q=q, site_id=site, dataset=dataset, start=window[0], end=window[1])
    except SearchError as exc:
        raise ApiError(422, str(exc), fields={"query.q": str(exc)}) from None
    result = await run_in_threadpool(
        search, runtime.events, where, limit=limit, offset=offset, facets=wanted
    )
    return JSONResponse(_jsonable(result))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
