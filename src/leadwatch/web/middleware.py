"""One ASGI middleware for what every request needs: a request id, a body-size cap,
RED metrics labelled by route template, and one log line per request."""

from __future__ import annotations

import random
import re
import time
from functools import cache
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadwatch.metrics import Metrics
from leadwatch.web.errors import error_response

log = structlog.get_logger("leadwatch.http")

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
UNMATCHED = "<unmatched>"
# Probes, scrapes and browser beacons are frequent and uninteresting when they succeed
# (the request metric counts them): log those at debug level, their failures at info.
_QUIET = frozenset({"/health", "/ready", "/metrics", "/collect"})


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int):
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        # Request ids need to be unique, not secret: a seeded generator instead of
        # uuid4's system call per request.
        self._ids = random.Random()
        # Labelled children, looked up once each (``labels()`` takes a lock and builds a
        # key); method, route and status are bounded, so the caches are too.
        self._counter = cache(metrics.http_requests.labels)
        self._histogram = cache(metrics.http_duration.labels)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        headers = dict(scope["headers"])
        offered = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = offered if _VALID_ID.match(offered) else f"{self._ids.getrandbits(128):032x}"
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        status = 500
        started = time.perf_counter()
        self.metrics.http_in_flight.inc()

        responded = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, responded
            if message["type"] == "http.response.start":
                status, responded = message["status"], True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            within_cap = await self._within_cap(headers, scope["method"], receive)
            if within_cap is None:
                await _too_large(scope, send_with_id, self.max_body_bytes)
            else:
                await self.app(scope, within_cap, send_with_id)
        except Exception:
            # Starlette answers an unhandled error outside every middleware, where the
            # request id is unknown: answer it here, so the 500 names the id the log has.
            if responded:
                raise  # too late for an answer: the server drops the connection
            log.exception("unhandled_error")
            await error_response(500, "internal error; the request id is in X-Request-ID")(
                scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            self.metrics.http_in_flight.dec()
            route = _route_template(scope)
            method = scope["method"] if scope["method"] in _METHODS else "other"
            self._counter(method, route, str(status)).inc()
            self._histogram(method, route).observe(elapsed)
            level = _LEVELS["debug" if scope["path"] in _QUIET and status < 400 else "info"]
            if log.is_enabled_for(level):
                log.log(level, "http_request", method=method, route=route, status=status,
                        duration_ms=round(elapsed * 1000, 2))
            structlog.contextvars.unbind_contextvars("request_id")

    async def _within_cap(
        self, headers: dict[bytes, bytes], method: str, receive: Receive
    ) -> Receive | None:
        """The receive channel to give the app, or None when the body exceeds the cap.

        A declared Content-Length is checked up front (the server enforces it). A
        chunked upload is read here, up to the cap, and replayed to the app, so an
        oversized body gets its 413 before any handler starts parsing it.
        """
        declared = headers.get(b"content-length")
        if declared is not None:
            return None if declared.isdigit() and int(declared) > self.max_body_bytes else receive
        if method not in _BODY_METHODS:
            return receive
        chunks: list[bytes] = []
        size = 0
        gone: Message | None = None
        while True:
            message = await receive()
            if message["type"] != "http.request":
                gone = message  # the client left mid-body: the app must see that, not a short body
                break
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                break
        replay: list[Message] = [
            {"type": "http.request", "body": b"".join(chunks), "more_body": gone is not None},
            *([gone] if gone is not None else []),
        ]

        async def replayed() -> Message:
            return replay.pop(0) if replay else await receive()

        return replayed


_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# Any other method a client invents is counted as "other": labels stay bounded.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_LEVELS = {"debug": 10, "info": 20}


def _route_template(scope: Scope) -> str:
    route: Any = scope.get("route")
    return getattr(route, "path", None) or UNMATCHED


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    response = error_response(413, f"the request body exceeds {limit} bytes")
    await response(scope, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}
