"""POST and OPTIONS /collect as a plain ASGI app: the busiest route, served without
FastAPI's per-request machinery (request and response objects, dependency solving,
parameter validation), which cost more than the ingest pipeline itself.

It keeps what a FastAPI route would give: the query is validated by a pydantic model
(the one the OpenAPI document shows), errors raise :class:`ApiError` into the app's
error handlers (one envelope), and the route sits behind the same middleware (request
id, RED metrics, security headers, the guard). What it adds is speed: the site table
and CORS allow-lists are built once, a query string is parsed and validated once
(cached), the headers are read in one pass, and the answer is sent as two messages
with pre-encoded headers.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from leadwatch.collect.pipeline import BatchError, Collector, Result
from leadwatch.settings import Settings, SiteSettings
from leadwatch.store.buffer import BufferFull
from leadwatch.store.schema import utcnow
from leadwatch.web.errors import ApiError, validation_fields

CONTENT_TYPES = (b"text/plain", b"application/json")
# The request headers the endpoint reads (names arrive lower-cased from the server).
_ORIGIN, _HOST, _LENGTH, _TYPE, _AGENT = (
    b"origin", b"host", b"content-length", b"content-type", b"user-agent")
_READ = frozenset({_ORIGIN, _HOST, _LENGTH, _TYPE, _AGENT})
_JSON = (b"content-type", b"application/json")
_PREFLIGHT = [
    (b"access-control-allow-methods", b"POST"),
    (b"access-control-allow-headers", b"Content-Type"),
    (b"access-control-max-age", b"86400"),
]


class CollectQuery(BaseModel):
    """The query string of POST /collect (and of its CORS preflight)."""

    model_config = ConfigDict(frozen=True)  # validated ones are cached and shared

    site: str = Field(max_length=63, description="The site id of the page (data-site).")
    c: str | None = Field(None, max_length=1, description="1 when the visitor gave consent.")


class CollectEndpoint:
    """POST /collect and its preflight for one app: sites and allow-lists are read from
    ``settings`` once; the collector is the running app's (``app.state.runtime``)."""

    def __init__(self, settings: Settings):
        self.sites = {site.id: site for site in settings.sites}
        self.origins = {site.id: _allowed_origins(settings, site) for site in settings.sites}
        self.limit = settings.collect.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        query = _query(scope["query_string"])
        site = self.sites.get(query.site)
        if site is None:
            raise ApiError(404, f"unknown site {query.site!r}", fields={"query.site": "unknown site"})
        headers: dict[bytes, bytes] = {}
        for name, value in scope["headers"]:
            if name in _READ and name not in headers:  # the first of repeated headers counts
                headers[name] = value
        cors = self._cors(site, headers)
        if scope["method"] == "OPTIONS":
            await _answer(send, 204, b"", [*cors, *_PREFLIGHT])
            return
        body = await self._body(receive, headers)
        if body is None:
            return  # the client went away before sending its body: nothing was accepted
        collector: Collector = scope["app"].state.runtime.collector
        received_at = utcnow()
        client = scope.get("client")

        def run() -> Result:
            return collector.collect(
                site, body, ip=client[0] if client else "", received_at=received_at,
                user_agent=headers.get(_AGENT, b"").decode("latin-1"), consented=query.c == "1",
            )

        try:
            # In memory and fast; only the first batch of a day reads the record store.
            result = run() if collector.salt_ready(received_at) else await run_in_threadpool(run)
        except BatchError as exc:
            raise ApiError(exc.status, str(exc), fields={exc.field: str(exc)},
                           headers=_header_dict(cors)) from None
        except BufferFull as exc:
            raise ApiError(503, f"not accepted: {exc}",
                           headers={"Retry-After": "5", **_header_dict(cors)}) from None
        answer = {"accepted": result.accepted, "rejected": result.rejected, "token": result.token}
        await _answer(send, 202, orjson.dumps(answer), [_JSON, *cors])

    def _cors(self, site: SiteSettings, headers: dict[bytes, bytes]) -> list[tuple[bytes, bytes]]:
        """The CORS headers to answer with; none when the request has no Origin. A foreign
        origin the site does not allow is refused (403) before its events are read."""
        raw = headers.get(_ORIGIN)
        if raw is None:
            return []
        origin = raw.decode("latin-1").lower()
        # Same origin: the page is served by this leadwatch (the demo site, a proxy path).
        host = headers.get(_HOST, b"").decode("latin-1").lower()
        if origin in self.origins[site.id] or origin.split("://", 1)[-1] == host:
            return [(b"access-control-allow-origin", raw.lower()), (b"vary", b"Origin")]
        raise ApiError(
            403, f"origin {origin} may not send events for site {site.id}",
            fields={"header.origin": "not in collect.sites.<site>.allowed_origins"},
        )

    async def _body(self, receive: Receive, headers: dict[bytes, bytes]) -> bytes | None:
        """The request body, refused (413, 415) before it is read when it cannot be used,
        and read no further than the cap; None when the client disconnected."""
        limit = self.limit
        declared = headers.get(_LENGTH, b"")
        if declared.isdigit() and int(declared) > limit:
            raise ApiError(413, f"the body exceeds {limit} bytes", fields={"body": "too large"})
        media = headers.get(_TYPE, b"").split(b";", 1)[0].strip().lower()
        if media not in CONTENT_TYPES:
            raise ApiError(415, "send text/plain or application/json",
                           fields={"header.content-type": media.decode("latin-1")})
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise ApiError(413, f"the body exceeds {limit} bytes", fields={"body": "too large"})
            if not message.get("more_body", False):
                return chunk if not chunks else b"".join([*chunks, chunk])
            chunks.append(chunk)


def _allowed_origins(settings: Settings, site: SiteSettings) -> frozenset[str]:
    allowed = set(settings.collect.site(site.id).allowed_origins)
    if site.domain:
        allowed |= {f"https://{site.domain}", f"https://www.{site.domain.removeprefix('www.')}"}
    return frozenset(o.lower() for o in allowed)


@lru_cache(maxsize=1024)
def _parsed_query(raw: bytes) -> CollectQuery | dict[str, str]:
    """The query, or the fields at fault (cached: a site's beacons repeat one query)."""
    try:
        return CollectQuery.model_validate(dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)))
    except ValidationError as exc:
        return validation_fields({**e, "loc": ("query", *e["loc"])} for e in exc.errors())


def _query(raw: bytes) -> CollectQuery:
    parsed = _parsed_query(raw)
    if isinstance(parsed, CollectQuery):
        return parsed
    # As FastAPI answers an invalid query parameter (web/errors.py).
    raise ApiError(422, "the request has invalid fields: " + ", ".join(parsed), fields=dict(parsed))


def _header_dict(headers: list[tuple[bytes, bytes]]) -> dict[str, str]:
    return {name.decode(): value.decode() for name, value in headers}


async def _answer(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    if status != 204:  # a 204 carries no Content-Length (RFC 9110, 8.6)
        headers = [*headers, (b"content-length", str(len(body)).encode())]
    start: dict[str, Any] = {"type": "http.response.start", "status": status, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": body})
