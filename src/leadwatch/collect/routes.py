"""GET /lw.js (the snippet) and POST /collect (its events; served by collect/endpoint.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from leadwatch.collect.endpoint import CollectEndpoint, CollectQuery
from leadwatch.collect.snippet import Snippet, SnippetMissing, load_snippet
from leadwatch.settings import Settings
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(tags=["collect"])

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


class ServedRoute(APIRoute):
    """A route FastAPI documents (from ``endpoint``'s signature and the route's options)
    and matches like any other, but whose requests go straight to ``asgi``, a plain
    ASGI app, skipping FastAPI's request/response machinery."""

    def __init__(self, path: str, endpoint: Callable[..., Any], *, asgi: ASGIApp, **options: Any):
        super().__init__(path, endpoint, **options)
        self.app = asgi


# What FastAPI documents POST /collect from (its query model, answer and docstring);
# the route's ASGI app, a CollectEndpoint, serves it, so this body never runs.
async def collect(query: Annotated[CollectQuery, Query()]) -> CollectAccepted:  # type: ignore[empty-body]
    """A JSON array of events (text/plain or application/json). Answers 202 once the
    accepted events are in the write buffer; each rejected event is listed with its
    reason. `token` is the visitor's signed attribution token after a page view."""


class Shortcut:
    """ASGI middleware handing the requests of ``routes`` straight to their apps. Added
    innermost, it keeps what every request gets from the middleware outside it (request
    id, metrics, security headers, the guard) and skips FastAPI's exception middleware
    and router, a third of /collect's cost in HTTP handling. So it does their part: it
    sets ``scope["route"]`` (the metrics' route label) and answers an ApiError. Any
    other request, or a path it does not know as such (a mount prefix), takes the
    router, which serves the same routes."""

    def __init__(self, app: ASGIApp, routes: Sequence[APIRoute]):
        self.app = app
        self.routes = {(route.path, method): route for route in routes for method in route.methods}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes.get((scope["path"], scope["method"])) if scope["type"] == "http" else None
        if route is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = route
        try:
            await route.app(scope, receive, send)
        except ApiError as exc:
            await exc.response()(scope, receive, send)


def add_collector(app: FastAPI, settings: Settings) -> None:
    """POST /collect and its CORS preflight, both served by one :class:`CollectEndpoint`,
    as the app's first routes and through a :class:`Shortcut`. Call it before adding
    any other middleware (it must be the innermost) and before including any router.
    The routes go into the app's own router (not an included one) so FastAPI keeps the
    route objects that serve them."""
    route_class = partial(ServedRoute, asgi=CollectEndpoint(settings))
    app.router.add_api_route(
        "/collect", collect, methods=["POST"], route_class_override=route_class,  # type: ignore[arg-type]
        status_code=202, response_model=CollectAccepted, tags=["collect"],
        summary="Receive a batch of browser events from /lw.js",
        responses={
            **ERROR_RESPONSES,
            404: {"description": "unknown site"},
            415: {"description": "not text/plain or application/json"},
            503: {"description": "the write buffer is full; retry later"},
        },
    )
    app.router.add_api_route(
        "/collect", collect, methods=["OPTIONS"], route_class_override=route_class,  # type: ignore[arg-type]
        include_in_schema=False,
    )
    served = [r for r in app.router.routes if isinstance(r, ServedRoute)]
    app.add_middleware(Shortcut, routes=served)
