"""Search over stored log records: a small query language, newest-first pages, facet
counts and a histogram, written once for DuckDB and PostgreSQL.

Query syntax (terms separated by spaces, all must hold; ``-term`` negates one):

- ``field:value``, ``field=value``, ``field!=value``; ``*`` in a value is a wildcard
  (``path:/contact*``); quote values with spaces (``message:"lead created"``);
- ``field>N``, ``>=``, ``<``, ``<=`` on numbers (``status>=500``, ``duration>0.5``),
  and ``status:5xx`` for a class of statuses;
- ``bot:true|false``; ``threat:sqli`` (a record may carry several threats);
- a bare word matches the message or the path, case-insensitively.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from leadwatch.logs.record import LogRecord
from leadwatch.store.events import EventStore
from leadwatch.store.schema import LOGS

Kind = Literal["text", "upper", "number", "bool", "list"]

# Query field -> (column, kind). ECS names are accepted too.
FIELDS: dict[str, tuple[str, Kind]] = {
    "status": ("status", "number"),
    "duration": ("duration", "number"),
    "bytes": ("bytes", "number"),
    "path": ("path", "text"),
    "route": ("route", "text"),
    "method": ("method", "upper"),
    "ip": ("source_ip", "text"),
    "country": ("country", "upper"),
    "channel": ("channel", "text"),
    "browser": ("browser", "text"),
    "os": ("os", "text"),
    "device": ("device", "text"),
    "bot": ("bot", "bool"),
    "threat": ("threat", "list"),
    "level": ("level", "text"),
    "message": ("message", "text"),
    "dataset": ("dataset", "text"),
    "site": ("site_id", "text"),
}
ALIASES = {
    "http.response.status_code": "status",
    "url.path": "path",
    "http.request.method": "method",
    "source.ip": "ip",
    "source.geo.country_iso_code": "country",
    "user_agent.name": "browser",
    "user_agent.os.name": "os",
    "user_agent.device.name": "device",
    "log.level": "level",
    "event.dataset": "dataset",
}
FACETS = ("status", "method", "country", "channel", "browser", "bot", "threat", "route")
# Histogram widths tried in order; the first giving at most MAX_BUCKETS buckets wins.
INTERVALS = (60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86_400, 7 * 86_400)
MAX_BUCKETS = 120
MAX_LIMIT = 1000

_TERM = re.compile(r'(-)?(?:([\w.]+)(>=|<=|!=|>|<|:|=))?("(?:[^"\\]|\\.)*"|\S+)')
_STATUS_CLASS = re.compile(r"^([1-5])xx$", re.IGNORECASE)


class SearchError(ValueError):
    """The query cannot be understood; the message says which term and why."""


@dataclass
class Where:
    clauses: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)

    def add(self, clause: str, **params: Any) -> None:
        self.clauses.append(clause)
        self.params.update(params)

    def param(self, value: Any) -> str:
        name = f"p{len(self.params)}"
        self.params[name] = value
        return f":{name}"

    @property
    def sql(self) -> str:
        return " AND ".join(self.clauses) or "TRUE"


def _like(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def compile_query(q: str, where: Where | None = None) -> Where:
    """Turn the query text into SQL conditions on the ``logs`` table."""
    where = where or Where()
    position = 0
    q = q.strip()
    while position < len(q):
        if q[position].isspace():
            position += 1
            continue
        match = _TERM.match(q, position)
        if match is None:  # pragma: no cover - the pattern matches any non-space run
            raise SearchError(f"cannot read the query at {q[position:position + 20]!r}")
        position = match.end()
        negate, name, op, raw = match.groups()
        value = raw[1:-1].replace('\\"', '"') if raw.startswith('"') and len(raw) > 1 else raw
        clause = _bare(where, value) if name is None else _term(where, name, op, value)
        where.clauses.append(f"NOT COALESCE({clause}, FALSE)" if negate else clause)
    return where


def _bare(where: Where, value: str) -> str:
    p = where.param(f"%{_like(value).strip('%')}%")
    return f"(message ILIKE {p} ESCAPE '\\' OR path ILIKE {p} ESCAPE '\\')"


def _term(where: Where, name: str, op: str, value: str) -> str:
    key = ALIASES.get(name, name).lower()
    if key not in FIELDS:
        raise SearchError(f"unknown field {name!r}; known: {', '.join(FIELDS)}")
    column, kind = FIELDS[key]
    if op in ("<", "<=", ">", ">="):
        if kind != "number":
            raise SearchError(f"{name}{op}: ranges work on numbers only (status, duration, bytes)")
        return f"{column} {op} {where.param(_number(name, value))}"
    equal = op != "!="
    if kind == "number":
        status_class = _STATUS_CLASS.match(value) if key == "status" else None
        if status_class:
            low = int(status_class.group(1)) * 100
            clause = f"({column} >= {where.param(low)} AND {column} < {where.param(low + 100)})"
        else:
            clause = f"{column} = {where.param(_number(name, value))}"
    elif kind == "bool":
        if value.lower() not in ("true", "false"):
            raise SearchError(f"{name}: must be true or false")
        clause = f"{column} = {where.param(value.lower())}"
    elif kind == "list":
        clause = f"(',' || {column} || ',') LIKE {where.param(f'%,{_like(value.lower())},%')} ESCAPE '\\'"
    else:
        text = value.upper() if kind == "upper" else value
        if "*" in text:
            clause = f"{column} LIKE {where.param(_like(text))} ESCAPE '\\'"
        else:
            clause = f"{column} = {where.param(text)}"
    return clause if equal else f"NOT COALESCE({clause}, FALSE)"


def _number(name: str, value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise SearchError(f"{name}: {value!r} is not a number") from None


def filters(
    *,
    q: str = "",
    site_id: str | None = None,
    dataset: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Where:
    where = Where()
    if site_id:
        where.add("site_id = :site_id", site_id=site_id)
    if dataset:
        where.add("dataset = :dataset", dataset=dataset)
    if start:
        where.add("ts >= :start", start=start)
    if end:
        where.add("ts < :end", end=end)
    return compile_query(q, where)


def search(
    store: EventStore,
    where: Where,
    *,
    limit: int = 50,
    offset: int = 0,
    facets: tuple[str, ...] = FACETS,
    facet_size: int = 10,
) -> dict[str, Any]:
    """Matching records newest first (each with its columns and, as ``props``, its
    whole ECS document), the total, counts per facet value and a histogram."""
    table = LOGS.name
    page = store.query(
        f"SELECT * FROM {table} WHERE {where.sql} ORDER BY ts DESC LIMIT {int(min(limit, MAX_LIMIT))} "
        f"OFFSET {int(offset)}",
        where.params,
    )
    summary = store.query(
        f"SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM {table} WHERE {where.sql}",
        where.params,
    )[0]
    result: dict[str, Any] = {
        "total": int(summary["n"]),
        "records": [{**row, "props": LogRecord.from_row(row).ecs()} for row in page],
        "facets": {},
        "histogram": {"interval_seconds": None, "buckets": []},
    }
    if not summary["n"]:
        return result
    for name in facets:
        column, _ = FIELDS[name]
        rows = store.query(
            f"SELECT {column} AS value, count(*) AS n FROM {table} WHERE {where.sql} "
            f"AND {column} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT {int(facet_size)}",
            where.params,
        )
        result["facets"][name] = [{"value": _plain(r["value"]), "count": int(r["n"])} for r in rows]
    seconds = histogram_interval(summary["first"], summary["last"])
    buckets = store.query(
        f"SELECT {store.dialect.bucket('ts', seconds)} AS ts, count(*) AS n FROM {table} "
        f"WHERE {where.sql} GROUP BY 1 ORDER BY 1",
        where.params,
    )
    result["histogram"] = {
        "interval_seconds": seconds,
        "buckets": [{"ts": b["ts"], "count": int(b["n"])} for b in buckets],
    }
    return result


def histogram_interval(first: datetime, last: datetime) -> int:
    span = max((last - first).total_seconds(), 1.0)
    for seconds in INTERVALS:
        if span / seconds <= MAX_BUCKETS:
            return seconds
    return INTERVALS[-1]


def _plain(value: Any) -> Any:
    """Whole-number floats (statuses) as ints, for readable facets."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value
