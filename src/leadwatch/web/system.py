"""Liveness, readiness and the Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from leadwatch import __version__
from leadwatch.runtime import Runtime
from leadwatch.web.deps import get_runtime

router = APIRouter(tags=["system"])


@router.get("/", summary="API root: what this server offers and where")
async def root(request: Request) -> dict[str, object]:
    return {
        "name": "leadwatch",
        "version": __version__,
        "links": {
            "health": "/health",
            "ready": "/ready",
            "metrics": "/metrics",
            "openapi": request.app.openapi_url,
            "events": "/api/v1/events",
        },
    }


@router.get("/health", summary="Liveness: the process answers")
async def health() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/ready",
    summary="Readiness: 200 only when every store answers",
    responses={503: {"description": "a store does not answer; `checks` says which"}},
)
async def ready(runtime: Runtime = Depends(get_runtime)) -> JSONResponse:
    checks = await run_in_threadpool(runtime.readiness)
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "unavailable", "checks": checks},
        status_code=200 if ok else 503,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
