"""The security middleware: pure ASGI, so it protects any Python ASGI site, not only
leadwatch (``app = SecurityMiddleware(app, guard=Guard(...))``).

For each HTTP request, in order: refuse a banned address (403); rate-limit with a
token bucket per address (429 with Retry-After; neither for ``security.never_ban``);
inspect what a WAF would (the path, the query, the cookies, the User-Agent, the
Referer's parameters, X-Forwarded-Host, and a form, JSON or multipart body up to
``security.inspect_body_bytes``) and refuse a request carrying a blocked threat
(403, SQL injection by default) while flagging the rest (recorded;
``scope["state"]["security"]`` lists them for the app); after the answer, feed the
rate detectors (brute force, floods, probing, form spam), which may ban the address. Refusals use leadwatch's JSON error envelope.

Values a program wrote (query and Referer parameters, cookies) are inspected with the
query's strict rules, text people typed (form, JSON and multipart text fields) with
the form's (a libinjection hit needs a confirmation), headers with the header rules.
A route's secret fields (``security.secret_fields``: a login's password, which it only
hashes) are neither inspected nor kept as evidence.

In leadwatch it sits inside the ObservabilityMiddleware, so refused requests still
get a request id, a log line and RED metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import orjson
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leadwatch.security.clients import client_ip
from leadwatch.security.detect import Field, Threat
from leadwatch.security.detectors import Observed
from leadwatch.security.events import Action
from leadwatch.security.guard import Guard, Seen
from leadwatch.store.models import now
from leadwatch.web.errors import error_response

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

GuardSource = Guard | Callable[[Scope], Guard | None]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_INSPECTED_BODIES = (b"application/x-www-form-urlencoded", b"application/json", b"multipart/form-data")
MAX_JSON_VALUES = 1000  # strings inspected per JSON body


def runtime_guard(scope: Scope) -> Guard | None:
    """leadwatch's own guard, once the app's lifespan has started the runtime."""
    runtime = getattr(scope["app"].state, "runtime", None)
    return getattr(runtime, "guard", None)


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, guard: GuardSource):
        self.app = app
        self._guard = guard if callable(guard) and not isinstance(guard, Guard) else (lambda _s: guard)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self._guard(scope) if scope["type"] == "http" else None
        if guard is None or not guard.settings.enabled:
            await self.app(scope, receive, send)
            return
        ip = client_ip(scope, guard.trusted_proxies)
        path: str = scope["path"]
        exempt = guard.exempt(ip)  # security.never_ban: never refused as banned nor limited
        until = None if exempt else guard.bans.banned(ip)
        if until is not None:
            guard.refused.labels("banned").inc()
            await _refuse(scope, send, error_response(
                403, "this address is banned", code="banned",
                headers={"Retry-After": str(_seconds_until(until))}))
            return
        status = 500
        seen: list[Seen] = []
        wait = 0.0 if exempt else guard.bucket.take(ip)
        try:
            if wait > 0:
                status = 429
                guard.refused.labels("rate_limited").inc()
                await _refuse(scope, send, error_response(
                    429, "too many requests from this address; slow down",
                    headers={"Retry-After": str(max(1, math.ceil(wait)))}))
                return
            body = None
            if path not in guard.settings.body_inspected_by_route:
                receive, body = await _read_body(scope, receive, guard.settings.inspect_body_bytes)
            seen = guard.inspect(_values(scope, body, guard.secret_fields.get((scope["method"], path), NONE)))
            if seen:
                blocked = guard.blocks(seen)
                guard.log.record(*guard.findings_events(
                    seen, site_id=guard.site_id, ip=ip, path=path, source="middleware", blocked=blocked))
                if blocked:
                    status = 403
                    guard.refused.labels("attack").inc()
                    await _refuse(scope, send, _blocked_response(seen, guard))
                    return
                scope.setdefault("state", {})["security"] = seen

            async def send_status(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            await self.app(scope, receive, send_status)
        finally:
            observed = Observed(site_id=guard.site_id, ip=ip, method=scope["method"], path=path,
                                status=status, at=guard.clock(),
                                probe=any(s.threat is Threat.PROBE for s in seen))
            detections = guard.detectors.observe(observed)
            if detections:  # rare: a ban writes to the store, off the event loop
                await run_in_threadpool(guard.respond, detections, "middleware", Action.FLAGGED)


NONE: frozenset[str] = frozenset()


def _values(scope: Scope, body: tuple[bytes, bytes] | None, secret: frozenset[str] = NONE,
            ) -> Iterator[tuple[Field, str, str]]:
    """What the middleware inspects, as (field kind, where, raw value); the body's
    ``secret`` fields are left out."""
    yield Field.PATH, "path", scope.get("raw_path", b"").decode("latin-1") or scope["path"]
    query: bytes = scope.get("query_string", b"")
    if query:
        yield from _pairs(Field.QUERY, "query.", query.decode("latin-1"))
    for name, value in scope["headers"]:
        if name == b"user-agent" or name == b"x-forwarded-host":
            yield Field.HEADER, f"header.{name.decode()}", value.decode("latin-1")
        elif name == b"referer":
            _, _, params = value.decode("latin-1").partition("?")
            yield from _pairs(Field.QUERY, "header.referer.", params.partition("#")[0])
        elif name == b"cookie":
            for cookie in value.decode("latin-1").split(";"):
                cookie_name, _, cookie_value = cookie.strip().partition("=")
                where = f"cookie.{cookie_name[:64]}"
                yield Field.QUERY, where, cookie_name
                if cookie_value:
                    yield Field.QUERY, where, cookie_value
    if body is not None:
        content_type, data = body
        if content_type.startswith(b"application/x-www-form-urlencoded"):
            yield from _pairs(Field.FORM, "form.", data.decode("utf-8", "replace"), secret)
        elif content_type.startswith(b"application/json"):
            try:
                document = orjson.loads(data)
            except orjson.JSONDecodeError:
                return  # the app answers 422; nothing to inspect
            yield from _json_strings(document, secret)
        else:
            for name, value in _multipart_text_fields(content_type, data):
                if name not in secret:
                    yield Field.FORM, f"form.{name[:64]}", value


def _pairs(field: Field, prefix: str, text: str, secret: frozenset[str] = NONE) -> Iterator[tuple[Field, str, str]]:
    """Raw (still encoded) names and values: inspection decodes them as a server would
    (and a ``secret`` field is known by its name as the app decodes it)."""
    for part in text.split("&"):
        name, _, value = part.partition("=")
        if secret and unquote_plus(name) in secret:
            continue
        where = prefix + name[:64]
        if name:
            yield field, where, name
        if value:
            yield field, where, value


def _json_strings(document: Any, secret: frozenset[str] = NONE) -> Iterator[tuple[Field, str, str]]:
    """The document's strings (at most MAX_JSON_VALUES), but a top-level ``secret`` key's."""
    stack: list[tuple[str, Any]] = [("", document)]
    count = 0
    while stack and count < MAX_JSON_VALUES:
        where, node = stack.pop()
        if isinstance(node, str):
            count += 1
            yield Field.FORM, f"form.{where}" if where else "form", node
        elif isinstance(node, dict):
            stack.extend((f"{where}.{k}" if where else str(k), v) for k, v in node.items()
                         if where or k not in secret)
        elif isinstance(node, list):
            stack.extend((f"{where}[{i}]", v) for i, v in enumerate(node))


class _TextFields:
    """python-multipart callbacks (the parser Starlette gives the app, so both read a
    body alike) collecting the text fields of a multipart body: parts without a filename."""

    def __init__(self) -> None:
        self.fields: list[tuple[str, str]] = []
        self._header = [b"", b""]
        self._disposition = b""
        self._name: bytes | None = None
        self._data: bytearray | None = None  # None: a file part, not collected

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished, "on_part_data": self._part_data,
                "on_part_end": self._end}

    def _begin(self) -> None:
        self._disposition, self._data = b"", None

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header[0] += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._header[1] += data[start:end]

    def _header_end(self) -> None:
        if self._header[0].lower() == b"content-disposition":
            self._disposition = self._header[1]
        self._header = [b"", b""]

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self._name = options.get(b"name")
        self._data = bytearray() if self._name is not None and b"filename" not in options else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._data is not None:
            self._data += data[start:end]

    def _end(self) -> None:
        if self._data is not None and self._name is not None:
            self.fields.append((self._name.decode("utf-8", "replace"), self._data.decode("utf-8", "replace")))


def _multipart_text_fields(content_type: bytes, data: bytes) -> list[tuple[str, str]]:
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        return []  # the app answers 400
    text = _TextFields()
    try:
        parser = MultipartParser(boundary, text.callbacks())
        parser.write(data)
        parser.finalize()
    except MultipartParseError:
        pass  # the app refuses the body; inspect what was readable
    return text.fields


async def _read_body(scope: Scope, receive: Receive, limit: int) -> tuple[Receive, tuple[bytes, bytes] | None]:
    """For a form, JSON or multipart body of at most ``limit`` bytes: (a receive that
    replays it, (content type, body)). Other bodies are left unread: (receive, None)."""
    if limit <= 0 or scope["method"] not in _BODY_METHODS:
        return receive, None
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"").lower()
    if not content_type.startswith(_INSPECTED_BODIES):
        return receive, None
    declared = headers.get(b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return receive, None
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        size += len(message.get("body", b""))
        if size > limit or not message.get("more_body", False):
            break
    complete = size <= limit and messages[-1]["type"] == "http.request" and not messages[-1].get("more_body")

    async def replay() -> Message:
        return messages.pop(0) if messages else await receive()

    body = b"".join(m.get("body", b"") for m in messages) if complete else None
    return replay, (content_type, body) if body is not None else None


def _blocked_response(seen: list[Seen], guard: Guard) -> Any:
    blocked = [s for s in seen if s.threat in guard.block]
    fields = {s.where: f"refused: {s.threat.replace('_', ' ')}" for s in blocked}
    kinds = ", ".join(sorted({s.threat.replace("_", " ") for s in blocked}))
    return error_response(403, f"the request was refused as an attack ({kinds})", code="blocked",
                          fields=fields)


async def _refuse(scope: Scope, send: Send, response: Any) -> None:
    await response(scope, _disconnected, send)


async def _disconnected() -> Message:
    return {"type": "http.disconnect"}


def _seconds_until(until: datetime) -> int:
    return max(1, math.ceil((until - now()).total_seconds()))
