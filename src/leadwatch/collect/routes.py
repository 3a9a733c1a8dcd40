"""GET /lw.js (the snippet) and POST /collect (its events), with per-site CORS."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from leadwatch.collect.pipeline import BatchError, Result
from leadwatch.collect.snippet import Snippet, SnippetMissing, load_snippet
from leadwatch.runtime import Runtime
from leadwatch.settings import SiteSettings
from leadwatch.store.buffer import BufferFull
from leadwatch.store.schema import utcnow
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(tags=["collect"])

CONTENT_TYPES = ("text/plain", "application/json")
SHORT_CACHE = "public, max-age=3600, stale-while-revalidate=86400"
LONG_CACHE = "public, max-age=31536000, immutable"


class Rejected(BaseModel):
    index: int
    reason: str
    detail: str


class CollectAccepted(BaseModel):
    accepted: int
    rejected: list[Rejected]
    token: str | None = None


def _snippet_response(request: Request, snippet: Snippet, cache_control: str) -> Response:
    etag = f'"{snippet.digest}"'
    headers = {"Cache-Control": cache_control, "ETag": etag, "Vary": "Accept-Encoding"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    body = snippet.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body, headers["Content-Encoding"] = snippet.gzipped, "gzip"
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


def _snippet() -> Snippet:
    try:
        return load_snippet()
    except SnippetMissing as exc:
        raise ApiError(503, str(exc)) from None


@router.get("/lw.js", summary="The tracking snippet", response_class=Response)
async def snippet(request: Request) -> Response:
    return _snippet_response(request, _snippet(), SHORT_CACHE)


@router.get("/lw.{digest}.js", summary="The tracking snippet, immutable", response_class=Response)
async def hashed_snippet(digest: str, request: Request) -> Response:
    current = _snippet()
    if digest != current.digest:
        raise ApiError(404, "no such snippet version; load /lw.js")
    return _snippet_response(request, current, LONG_CACHE)


def _runtime(request: Request) -> Runtime:
    """The runtime, read directly: ``Depends(get_runtime)`` is a sync dependency, which
    FastAPI runs in the thread pool, a thread hop per request on the hottest route."""
    runtime: Runtime = request.app.state.runtime
    return runtime


def _site(runtime: Runtime, site_id: str) -> SiteSettings:
    for site in runtime.settings.sites:
        if site.id == site_id:
            return site
    raise ApiError(404, f"unknown site {site_id!r}", fields={"query.site": "unknown site"})


def _allowed_origin(runtime: Runtime, site: SiteSettings, request: Request) -> str | None:
    """The Origin to echo in CORS headers; None when the request has none. A foreign
    origin the site does not allow is refused (403) before its events are read."""
    origin = request.headers.get("origin")
    if origin is None:
        return None
    origin = origin.lower()
    allowed = set(runtime.settings.collect.site(site.id).allowed_origins)
    if site.domain:
        allowed |= {f"https://{site.domain}", f"https://www.{site.domain.removeprefix('www.')}"}
    # Same origin: the page is served by this leadwatch (the demo site, a proxy path).
    host = request.headers.get("host", "").lower()
    if origin in allowed or origin.split("://", 1)[-1] == host:
        return origin
    raise ApiError(
        403, f"origin {origin} may not send events for site {site.id}",
        fields={"header.origin": "not in collect.sites.<site>.allowed_origins"},
    )


def _cors(origin: str | None) -> dict[str, str]:
    if origin is None:
        return {}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


@router.options("/collect", include_in_schema=False)
async def collect_preflight(
    request: Request,
    site: str = Query(max_length=63),
) -> Response:
    runtime = _runtime(request)
    origin = _allowed_origin(runtime, _site(runtime, site), request)
    headers = {
        **_cors(origin),
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "86400",
    }
    return Response(status_code=204, headers=headers)


@router.post(
    "/collect",
    status_code=202,
    response_model=CollectAccepted,
    summary="Receive a batch of browser events from /lw.js",
    description="A JSON array of events (text/plain or application/json). Answers 202 "
    "once the accepted events are in the write buffer; each rejected event is listed with "
    "its reason. `token` is the visitor's signed attribution token after a page view.",
    responses={
        **ERROR_RESPONSES,
        404: {"description": "unknown site"},
        415: {"description": "not text/plain or application/json"},
        503: {"description": "the write buffer is full; retry later"},
    },
)
async def collect(
    request: Request,
    site: str = Query(max_length=63, description="The site id of the page (data-site)."),
    c: str | None = Query(None, max_length=1, description="1 when the visitor gave consent."),
) -> Any:
    runtime = _runtime(request)
    site_settings = _site(runtime, site)
    origin = _allowed_origin(runtime, site_settings, request)
    limit = runtime.settings.collect.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"the body exceeds {limit} bytes", fields={"body": "too large"})
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in CONTENT_TYPES:
        raise ApiError(415, "send text/plain or application/json", fields={"header.content-type": media})
    body = await request.body()
    if len(body) > limit:
        raise ApiError(413, f"the body exceeds {limit} bytes", fields={"body": "too large"})

    collector = runtime.collector
    received_at = utcnow()
    ip = request.client.host if request.client else ""
    user_agent = request.headers.get("user-agent", "")

    def run() -> Result:
        return collector.collect(
            site_settings, body, ip=ip, user_agent=user_agent, received_at=received_at,
            consented=c == "1",
        )

    try:
        # In memory and fast; only the first batch of a day reads the record store.
        result = run() if collector.salt_ready(received_at) else await run_in_threadpool(run)
    except BatchError as exc:
        raise ApiError(exc.status, str(exc), fields={exc.field: str(exc)}, headers=_cors(origin)) from None
    except BufferFull as exc:
        raise ApiError(503, f"not accepted: {exc}", headers={"Retry-After": "5", **_cors(origin)}) from None
    content = {"accepted": result.accepted, "rejected": result.rejected, "token": result.token}
    return JSONResponse(content, status_code=202, headers=_cors(origin))

