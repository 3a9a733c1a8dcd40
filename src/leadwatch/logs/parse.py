"""Parsers: one line of text in, one :class:`LogRecord` out, or :class:`ParseError`
with a short reason (which becomes a dead letter, never a silent drop).

Formats: nginx/Apache ``combined`` and ``common`` (optionally followed by
``$request_time``, ``$upstream_response_time``, a quoted X-Forwarded-For list or
``key=value`` timings), ``nginx-json`` (``log_format ... escape=json``) and ``json``
(leadwatch's own structlog lines and other applications' JSON logs). ``auto`` decides
per line: a line that starts with ``{`` is JSON (nginx JSON when it has nginx's
variables), anything else is tried as combined/common.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Collection
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal

import orjson

from leadwatch.logs.record import (
    ACCESS,
    APPLICATION,
    DATASETS,
    DEAD_LETTER,
    MAX_ORIGINAL,
    LogRecord,
)

Format = Literal["auto", "combined", "nginx-json", "json"]
FORMATS: tuple[Format, ...] = ("auto", "combined", "nginx-json", "json")


class ParseError(ValueError):
    """The line is not in the expected format; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


# Dead-letter reasons (bounded: they are a metric label).
REASONS = (
    "empty",
    "not_utf8",
    "unrecognised_format",
    "bad_timestamp",
    "bad_json",
    "json_not_object",
    "missing_timestamp",
)

# A quoted field with backslash escapes, written as an unrolled loop (runs of plain
# characters, then one escape): the same strings as ``"((?:[^"\\]|\\.)*)"`` but
# about 3x faster, as the regex engine no longer tries an alternation per character.
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'
ACCESS_LINE = re.compile(
    r"(\S+) (\S+) (\S+) \[([^\]]+)\] "
    + _QUOTED
    + r" (\d{3}|-) (\d+|-)"
    + r"(?: "
    + _QUOTED
    + r" "
    + _QUOTED
    + r")?(.*)$"
)
_TRAILER_TOKEN = re.compile(_QUOTED + r"|(\S+)")
_access_match = ACCESS_LINE.match
_ESCAPE = re.compile(r'\\x([0-9a-fA-F]{2})|\\(["\\])')
_CLF_TIME = re.compile(
    r"(\d{1,2})/([A-Za-z]{3})/(\d{4})[: ](\d{1,2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?"
    r"\s*(Z|UTC|GMT|[+-]\d{2}:?\d{2})?$"
)
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}
# Keys of nginx's own variables; one of them makes a JSON line an nginx access log.
NGINX_KEYS = frozenset({"remote_addr", "request_uri", "http_user_agent", "body_bytes_sent"})
TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "datetime", "time_iso8601", "time_local", "msec")
MESSAGE_KEYS = ("message", "msg", "event")  # structlog calls the message "event"
LEVEL_KEYS = ("level", "levelname", "severity", "log.level")
LOGGER_KEYS = ("logger", "logger_name", "log.logger")


def unescape(value: str) -> str:
    """Undo the escaping of quoted log fields (``\\"``, ``\\\\`` and nginx's ``\\xHH``)."""
    if "\\" not in value:
        return value
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)) if m.group(1) else m.group(2), value)


@lru_cache(maxsize=65_536)
def parse_time(text: str) -> datetime:
    """A log timestamp as naive UTC: CLF (``17/May/2015:10:05:03 +0000``, with or without
    fractions or zone), ISO 8601, or epoch seconds/milliseconds. No zone means UTC."""
    text = text.strip()
    match = _CLF_TIME.match(text)
    if match:
        day, mon, year, hour, minute, sec, frac, zone = match.groups()
        month = _MONTHS.get(mon.lower())
        if month is None:
            raise ParseError("bad_timestamp", text[:60])
        try:
            ts = datetime(
                int(year), month, int(day), int(hour), int(minute), int(sec),
                int((frac or "0")[:6].ljust(6, "0")),
            )
        except ValueError:
            raise ParseError("bad_timestamp", text[:60]) from None
        return ts - _offset(zone)
    if _looks_numeric(text):
        seconds = float(text)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        try:
            return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            raise ParseError("bad_timestamp", text[:60]) from None
    try:
        ts = datetime.fromisoformat(text.replace(" UTC", "+00:00"))
    except ValueError:
        raise ParseError("bad_timestamp", text[:60]) from None
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts


_EPOCH = datetime(1970, 1, 1)


def _offset(zone: str | None) -> timedelta:
    if not zone or zone in ("Z", "UTC", "GMT"):
        return timedelta(0)
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))


def _looks_numeric(text: str) -> bool:
    return bool(text) and text.replace(".", "", 1).isdigit()


def _seconds(value: Any) -> float | None:
    """A duration logged in seconds (``0.123``, ``-``, ``0.01, 0.02`` for retried
    upstreams, which add up)."""
    if value is None or value == "" or value == "-":
        return None
    if isinstance(value, int | float):
        return float(value)
    total = 0.0
    for part in str(value).replace(":", ",").split(","):
        part = part.strip()
        if part and part != "-":
            try:
                total += float(part)
            except ValueError:
                return None
    return total


def _int(value: Any) -> int | None:
    if value is None or value == "" or value == "-":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def split_target(record: LogRecord, target: str) -> None:
    """Fill ``path`` and ``query`` from a request target (origin or absolute form)."""
    if target.startswith(("http://", "https://")):
        rest = target.split("://", 1)[1]
        slash = rest.find("/")
        record.domain = rest[:slash] if slash >= 0 else rest
        target = rest[slash:] if slash >= 0 else "/"
    path, sep, query = target.partition("?")
    record.path = path or None
    record.query = query if sep and query else None


_NO_REQUEST: tuple[str | None, ...] = (None,) * 6


@lru_cache(maxsize=65_536)
def _request_parts(request: str) -> tuple[str | None, ...]:
    """An escaped request field as ``(method, target, http_version, domain, path,
    query)``: what :func:`split_request` fills in, cached (logs repeat their requests)."""
    probe = LogRecord(dataset=ACCESS, ts=_EPOCH, site_id="")
    split_request(probe, unescape(request))
    if probe.target is None:
        return _NO_REQUEST
    return (probe.method, probe.target, probe.http_version, probe.domain, probe.path, probe.query)


def split_request(record: LogRecord, request: str) -> None:
    """``GET /contact?x=1 HTTP/1.1`` into method, target, path, query and version.

    An empty request (``-``) leaves them unset; junk (a TLS handshake sent to the
    HTTP port) is kept as ``url.original`` only."""
    if not request or request == "-":
        return
    parts = request.split(" ")
    if len(parts) == 3 and parts[2].startswith("HTTP/") and parts[0].isalpha():
        record.method, target, record.http_version = parts[0], parts[1], parts[2][5:]
    elif len(parts) == 2 and parts[0].isalpha() and parts[0].isupper():
        record.method, target = parts  # HTTP/0.9
    else:
        record.target = request[:MAX_ORIGINAL]
        return
    record.target = target
    split_target(record, target)


@lru_cache(maxsize=16_384)
def client_ip(remote: str, forwarded_for: str | None) -> str:
    """The client's address: the peer, unless the peer is a private or loopback proxy,
    in which case the right-most public address of X-Forwarded-For (the left-most
    entries are whatever the client chose to send, so they are not trusted)."""
    if not forwarded_for or forwarded_for == "-":
        return remote
    try:
        if not _is_internal(remote):
            return remote
    except ValueError:
        return remote
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    for hop in reversed(hops):
        try:
            if not _is_internal(hop):
                return hop
        except ValueError:
            continue
    return remote


def _is_internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.strip("[]"))
    return ip.is_private or ip.is_loopback or ip.is_link_local


def parse_combined(line: str, site_id: str) -> LogRecord:
    """nginx/Apache combined or common format, with the usual timing trailers."""
    match = _access_match(line)
    if match is None:
        raise ParseError("unrecognised_format", "not a combined/common access log line")
    remote, _ident, user, when, request, status, size, referrer, agent, trailer = match.groups()
    record = LogRecord(
        dataset=ACCESS,
        ts=parse_time(when),
        site_id=site_id,
        original=line[:MAX_ORIGINAL],
        source_address=remote,
        user_name=None if user == "-" else user,
        status=None if status == "-" else int(status),
        bytes=None if size == "-" else int(size),
        referrer=None if not referrer or referrer == "-" else unescape(referrer),
        user_agent=None if not agent or agent == "-" else unescape(agent),
    )
    if request and request != "-":
        (record.method, record.target, record.http_version,
         record.domain, record.path, record.query) = _request_parts(request)
    if trailer:
        _read_trailer(record, trailer)
    record.source_ip = client_ip(remote, record.forwarded_for)
    return record


def _read_trailer(record: LogRecord, trailer: str) -> None:
    """What nginx configurations commonly append after the user agent: a quoted
    X-Forwarded-For, ``$request_time $upstream_response_time`` or ``rt=… urt=…``."""
    numbers: list[float | None] = []
    tokens: list[tuple[str, str]] = []
    for quoted, bare in _TRAILER_TOKEN.findall(trailer):
        if bare and tokens and tokens[-1][1].endswith(","):  # "0.250, 0.260": retried upstreams
            tokens[-1] = ("", tokens[-1][1] + bare)
        else:
            tokens.append((quoted, bare))
    for quoted, bare in tokens:
        if quoted:
            if record.forwarded_for is None and quoted != "-":
                record.forwarded_for = unescape(quoted)
            continue
        key, eq, value = bare.partition("=")
        if eq:
            seconds = _seconds(value.strip('"'))
            if key in ("rt", "request_time"):
                record.duration = seconds
            elif key in ("urt", "upstream_response_time"):
                record.upstream_duration = seconds
        elif bare == "-" or _looks_numeric(bare.split(",")[0]):
            numbers.append(_seconds(bare))
    if numbers and record.duration is None:
        record.duration = numbers[0]
    if len(numbers) > 1 and record.upstream_duration is None:
        record.upstream_duration = numbers[1]


def parse_nginx_json(data: dict[str, Any], line: str, site_id: str) -> LogRecord:
    """An nginx ``log_format … escape=json`` line (nginx's variable names as keys)."""
    when = _first(data, TIME_KEYS)
    if when is None:
        raise ParseError("missing_timestamp", "no time_iso8601/time_local/msec key")
    remote = str(data.get("remote_addr") or data.get("client_ip") or "") or None
    forwarded = data.get("http_x_forwarded_for") or None
    record = LogRecord(
        dataset=ACCESS,
        ts=parse_time(str(when)),
        site_id=site_id,
        original=line[:MAX_ORIGINAL],
        source_address=remote,
        forwarded_for=None if forwarded in (None, "-") else str(forwarded),
        user_name=_nonempty(data.get("remote_user")),
        status=_int(data.get("status")),
        bytes=_int(data.get("body_bytes_sent", data.get("bytes_sent"))),
        duration=_seconds(data.get("request_time")),
        upstream_duration=_seconds(data.get("upstream_response_time")),
        referrer=_nonempty(data.get("http_referer")),
        user_agent=_nonempty(data.get("http_user_agent")),
        domain=_nonempty(data.get("host") or data.get("server_name")),
    )
    if data.get("request"):
        split_request(record, str(data["request"]))
    elif data.get("request_uri") or data.get("uri"):
        record.method = _nonempty(data.get("request_method"))
        target = str(data.get("request_uri") or data["uri"])
        if "request_uri" not in data and data.get("args"):
            target += f"?{data['args']}"
        record.target = target
        split_target(record, target)
    if remote:
        record.source_ip = client_ip(remote, record.forwarded_for)
    return record


def parse_app_json(
    data: dict[str, Any], line: str, site_id: str, business_events: Collection[str] = ()
) -> LogRecord:
    """An application's JSON log line: time, level, message, logger, and the rest kept as
    labels. ``dataset``/``event.dataset`` may name the dataset; messages listed in
    ``business_events`` go to ``business-events``."""
    flat = _flatten(data)
    when = _first(flat, TIME_KEYS)
    if when is None:
        raise ParseError("missing_timestamp", "no @timestamp/timestamp/time/ts key")
    message = _first(flat, MESSAGE_KEYS)
    named = flat.get("event.dataset", flat.get("dataset"))
    if named in DATASETS and named != DEAD_LETTER:
        dataset = str(named)
    elif message is not None and str(message) in business_events:
        dataset = "business-events"
    else:
        dataset = APPLICATION
    used = {*TIME_KEYS, *MESSAGE_KEYS, *LEVEL_KEYS, *LOGGER_KEYS, "event.dataset", "dataset"}
    level = _first(flat, LEVEL_KEYS)
    logger = _first(flat, LOGGER_KEYS)
    record = LogRecord(
        dataset=dataset,
        ts=parse_time(str(when)),
        site_id=site_id,
        original=line[:MAX_ORIGINAL],
        level=str(level).lower() if level is not None else None,
        message=None if message is None else str(message),
        logger=None if logger is None else str(logger),
        labels={k: v for k, v in flat.items() if k not in used and _scalar(v)} or None,
    )
    # leadwatch's own request lines (and many apps') carry the HTTP facts: keep them.
    record.method = _nonempty(flat.get("method") or flat.get("http.request.method"))
    record.status = _int(flat.get("status") or flat.get("http.response.status_code"))
    path = flat.get("path") or flat.get("route") or flat.get("url.path")
    record.path = _nonempty(path)
    if "duration_ms" in flat:
        seconds = _seconds(flat["duration_ms"])
        record.duration = None if seconds is None else seconds / 1000
    ip = _nonempty(flat.get("client_ip") or flat.get("source.ip"))
    record.source_ip = ip
    return record


def _flatten(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"log": {"level": "x"}}`` -> ``{"log.level": "x"}`` (ECS-shaped app logs)."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and len(name) < 100:
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool) and not (
        isinstance(value, str) and len(value) > 1024
    )


def _first(data: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        value = data.get(key)
        if value is not None and value != "":
            return value
    return None


def _nonempty(value: Any) -> str | None:
    if value is None or value == "" or value == "-":
        return None
    return str(value)


def _load_json(line: str) -> dict[str, Any]:
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise ParseError("bad_json", str(exc)[:120]) from None
    if not isinstance(data, dict):
        raise ParseError("json_not_object")
    return data


def parser_for(
    fmt: Format, business_events: Collection[str] = ()
) -> Callable[[str, str], LogRecord]:
    """The function ``(line, site_id) -> LogRecord`` for a format (``auto`` decides per line)."""

    def json_line(line: str, site_id: str) -> LogRecord:
        data = _load_json(line)
        if fmt == "nginx-json" or (fmt == "auto" and not NGINX_KEYS.isdisjoint(data)):
            return parse_nginx_json(data, line, site_id)
        return parse_app_json(data, line, site_id, business_events)

    def parse(line: str, site_id: str) -> LogRecord:
        if not line.strip():
            raise ParseError("empty")
        if fmt == "combined":
            return parse_combined(line, site_id)
        if fmt != "auto" or line.lstrip().startswith("{"):
            return json_line(line, site_id)
        return parse_combined(line, site_id)

    return parse
