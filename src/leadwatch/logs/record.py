"""One log record as it moves through the pipeline, and its two output forms: a row of
the ``logs`` event table and an Elastic Common Schema (ECS) document.

The record is a flat slotted object (cheap to make a million of); the nested ECS
document is built once per record, encoded once, and shared by the sinks that ship
documents (NDJSON, Elasticsearch). The store keeps it in two parts: the columns of
the ``logs`` table, and in ``props`` only the rest of the document (in its ECS shape:
``url.original``, ``user_agent.original``, ``labels``, ``leadwatch.threats``...),
about a quarter of the whole, since writing the store is the pipeline's largest cost.
:meth:`LogRecord.from_row` puts a stored row back together, and its :meth:`ecs` is
the document the sinks wrote, byte for byte (on PostgreSQL, equal as JSON: JSONB
keeps the keys of ``labels`` and ``utm`` in an order of its own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson

ACCESS = "access"
APPLICATION = "application"
SECURITY = "security"
BUSINESS_EVENTS = "business-events"
WEB_VITALS = "web-vitals"
DEAD_LETTER = "dead-letter"
# The datasets the business named (the Elasticsearch index patterns reboot-<dataset>-*),
# plus the dead letters: lines that could not be parsed, kept with their reason.
DATASETS = (APPLICATION, ACCESS, SECURITY, BUSINESS_EVENTS, WEB_VITALS, DEAD_LETTER)
ECS_VERSION = "8.11.0"
_ECS = {"version": ECS_VERSION}
MAX_ORIGINAL = 8192  # characters of a raw line kept in event.original
MAX_MESSAGE_COLUMN = 2000  # characters of a message in its column; longer ones also go in props


@dataclass(frozen=True, slots=True)
class ThreatMatch:
    threat: str  # "sqli", "xss", "path_traversal", ...
    rule: str
    field: str  # where it was found: path, query, header
    evidence: str


@dataclass(slots=True)
class LogRecord:
    dataset: str
    ts: datetime  # naive UTC
    site_id: str
    original: str | None = None
    # access logs
    source_address: str | None = None  # the peer that connected (a proxy, maybe)
    source_ip: str | None = None  # the client, after X-Forwarded-For
    forwarded_for: str | None = None
    user_name: str | None = None
    method: str | None = None
    target: str | None = None  # the request target as logged (url.original)
    http_version: str | None = None
    domain: str | None = None
    path: str | None = None
    query: str | None = None
    route: str | None = None
    status: int | None = None
    bytes: int | None = None
    duration: float | None = None  # seconds
    upstream_duration: float | None = None  # seconds
    referrer: str | None = None
    user_agent: str | None = None
    # enrichment
    browser: str | None = None
    browser_version: str | None = None
    os: str | None = None
    device: str | None = None
    bot: bool | None = None
    country: str | None = None
    geo: dict[str, Any] | None = None  # region, city, asn, as_org from an .mmdb, when configured
    utm: dict[str, str] | None = None
    channel: str | None = None
    threats: Sequence[ThreatMatch] = ()  # a shared empty tuple: most records have none
    # application logs
    level: str | None = None
    message: str | None = None
    logger: str | None = None
    labels: dict[str, Any] | None = None
    error: str | None = None  # why a dead letter could not be parsed
    _json: str | None = None

    def copy_to(self, dataset: str) -> LogRecord:
        """The same record in another dataset (an attack in ``access`` is also ``security``)."""
        return replace(self, dataset=dataset, _json=None)

    def ecs(self) -> dict[str, Any]:
        """The record as an ECS document (nested objects, ECS field names; absent fields
        left out). ``event.original`` is kept for dead letters only: for a parsed line
        every part of it is in the document already, and it would double its size.

        Built once per record on the hot path: plain ``if`` tests rather than helper
        calls, and the keys in a fixed order (the encoded text, and so each
        Elasticsearch ``_id``, must not change)."""
        dataset, ts, threats = self.dataset, self.ts, self.threats
        event: dict[str, Any] = {"dataset": dataset, "kind": "alert" if threats else "event"}
        if self.duration is not None:
            event["duration"] = round(self.duration * 1e9)
        if self.error is not None:
            event["original"] = self.original
        labels = self.labels
        doc: dict[str, Any] = {
            "@timestamp": _timestamp(ts) if ts.tzinfo is None else _iso(ts),
            "ecs": _ECS,
            "data_stream": {"dataset": dataset},
            "event": event,
            "labels": {"site_id": self.site_id, **labels} if labels else {"site_id": self.site_id},
        }
        if self.source_ip or self.source_address:
            doc["source"] = self._source()
        if self.user_name:
            doc["user"] = {"name": self.user_name}
        if self.method or self.status is not None or self.target:
            self._http(doc)
        user_agent, browser = self.user_agent, self.browser
        if user_agent or browser:
            agent: dict[str, Any] = {}
            if user_agent:
                agent["original"] = user_agent
            if browser:
                agent["name"] = browser
                if self.browser_version:
                    agent["version"] = self.browser_version
                agent["os"] = {"name": self.os}
                agent["device"] = {"name": self.device}
            doc["user_agent"] = agent
        if self.level or self.logger:
            doc["log"] = _compact(level=self.level, logger=self.logger)
        if self.message:
            doc["message"] = self.message
        if self.error:
            doc["error"] = {"message": self.error, "type": "parse"}
        extra: dict[str, Any] = {}
        if self.route is not None:
            extra["route"] = self.route
        if self.channel is not None:
            extra["channel"] = self.channel
        if self.bot is not None:
            extra["bot"] = self.bot
        if self.utm:
            extra["utm"] = self.utm
        if threats:
            extra["threats"] = _threat_docs(threats)
        if extra:
            doc["leadwatch"] = extra
        return doc

    def _source(self) -> dict[str, Any]:
        source: dict[str, Any] = {}
        if self.source_ip:
            source["ip"] = self.source_ip
        if self.source_address:
            source["address"] = self.source_address
        if self.geo:
            self._geo_props(source, self.geo, self.country)
        elif self.country:
            source["geo"] = {"country_iso_code": self.country}
        return source

    def _http(self, doc: dict[str, Any]) -> None:
        request: dict[str, Any] = {}
        if self.method:
            request["method"] = self.method
        if self.referrer:
            request["referrer"] = self.referrer
        if self.forwarded_for:
            request["x_forwarded_for"] = self.forwarded_for
        http: dict[str, Any] = {"request": request}
        if self.http_version:
            http["version"] = self.http_version
        if self.status is not None:
            response: dict[str, Any] = {"status_code": self.status}
            if self.bytes is not None:
                response["body"] = {"bytes": self.bytes}
            http["response"] = response
        if self.upstream_duration is not None:
            http["upstream"] = {"duration": round(self.upstream_duration * 1e9)}
        doc["http"] = http
        url: dict[str, Any] = {}
        if self.target:
            url["original"] = self.target
        if self.domain:
            url["domain"] = self.domain
        if self.path:
            url["path"] = self.path
        if self.query:
            url["query"] = self.query
        if url:
            doc["url"] = url

    @property
    def json(self) -> str:
        """The ECS document as JSON text, encoded once and shared by the sinks."""
        if self._json is None:
            self._json = orjson.dumps(self.ecs()).decode()
        return self._json

    @property
    def threat(self) -> str | None:
        """The distinct threats, comma-separated (the ``threat`` column)."""
        if not self.threats:
            return None
        return ",".join(sorted({t.threat for t in self.threats}))

    def props(self) -> dict[str, Any]:
        """What the ``props`` column keeps: the parts of :meth:`ecs` that no column of
        the row holds, at their places in the document. ``source.address`` and
        ``url.original`` are left out when the columns say them already (the address
        is the client's; the target is the path and query), and are kept, as null if
        need be, when not."""
        props: dict[str, Any] = {}
        if self.error is not None:
            props["event"] = {"original": self.original}
            props["error"] = {"message": self.error}
        if self.labels:
            props["labels"] = self.labels
        if self.source_address != self.source_ip:
            props["source"] = {"address": self.source_address}
        if self.geo:
            self._geo_props(props.setdefault("source", {}), self.geo)
        if self.user_name:
            props["user"] = {"name": self.user_name}
        referrer, forwarded, version = self.referrer, self.forwarded_for, self.http_version
        if referrer or forwarded or version or self.upstream_duration is not None:
            http: dict[str, Any] = {}
            if referrer or forwarded:
                request = http["request"] = {}
                if referrer:
                    request["referrer"] = referrer
                if forwarded:
                    request["x_forwarded_for"] = forwarded
            if version:
                http["version"] = version
            if self.upstream_duration is not None:
                http["upstream"] = {"duration": round(self.upstream_duration * 1e9)}
            props["http"] = http
        target, domain, query = self.target, self.domain, self.query
        said = target == _target_of(self.path, query)
        if not said or domain or query:
            url = props["url"] = {}
            if not said:
                url["original"] = target
            if domain:
                url["domain"] = domain
            if query:
                url["query"] = query
        agent, browser_version = self.user_agent, self.browser_version
        if agent or browser_version:
            user_agent = props["user_agent"] = {}
            if agent:
                user_agent["original"] = agent
            if browser_version:
                user_agent["version"] = browser_version
        if self.logger:
            props["log"] = {"logger": self.logger}
        if self.message and len(self.message) > MAX_MESSAGE_COLUMN:
            props["message"] = self.message
        if self.utm or self.threats:
            extra: dict[str, Any] = {}
            if self.utm:
                extra["utm"] = self.utm
            if self.threats:
                extra["threats"] = _threat_docs(self.threats)
            props["leadwatch"] = extra
        return props

    @staticmethod
    def _geo_props(source: dict[str, Any], geo: dict[str, Any], country: str | None = None) -> None:
        """``source.geo`` and ``source.as`` from the .mmdb fields (and, for the whole
        document, the country, which ``props`` leaves to its column)."""
        place = _compact(
            country_iso_code=country, region_name=geo.get("region"), city_name=geo.get("city")
        )
        if place:
            source["geo"] = place
        if geo.get("asn") is not None:
            source["as"] = _compact(number=geo["asn"], organization=_compact(name=geo.get("as_org")))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LogRecord:
        """The record a stored row of the ``logs`` table was made from (``props``
        parsed), as far as its ECS document goes: ``ecs()`` of it is the document.
        Rows written before ``props`` was cut down hold the whole document there
        (it has an ``@timestamp``): every field is read from its place in it."""
        props = row["props"] or {}
        whole = "@timestamp" in props
        source = props.get("source") or {}
        place = source.get("geo") or {}
        network = source.get("as") or {}
        http = props.get("http") or {}
        request = http.get("request") or {}
        upstream = (http.get("upstream") or {}).get("duration")
        url = props.get("url") or {}
        agent = props.get("user_agent") or {}
        extra = props.get("leadwatch") or {}
        error = props.get("error")
        status, size, bot = row["status"], row["bytes"], row["bot"]
        address = source.get("address", None if whole else row["source_ip"])
        target = url.get("original", None if whole else _target_of(row["path"], url.get("query")))
        return cls(
            dataset=row["dataset"],
            ts=row["ts"],
            site_id=row["site_id"],
            original=(props.get("event") or {}).get("original"),
            source_address=address,
            source_ip=row["source_ip"],
            forwarded_for=request.get("x_forwarded_for"),
            user_name=(props.get("user") or {}).get("name"),
            method=row["method"],
            target=target,
            http_version=http.get("version"),
            domain=url.get("domain"),
            path=row["path"],
            query=url.get("query"),
            route=row["route"],
            status=None if status is None else int(status),
            bytes=None if size is None else int(size),
            duration=row["duration"],
            upstream_duration=None if upstream is None else upstream / 1e9,
            referrer=request.get("referrer"),
            user_agent=agent.get("original"),
            browser=row["browser"],
            browser_version=agent.get("version"),
            os=row["os"],
            device=row["device"],
            bot=None if bot is None else bot == "true",
            country=row["country"],
            geo=_compact(
                region=place.get("region_name"),
                city=place.get("city_name"),
                asn=network.get("number"),
                as_org=(network.get("organization") or {}).get("name"),
            ) or None,
            utm=extra.get("utm"),
            channel=row["channel"],
            threats=[ThreatMatch(**t) for t in extra.get("threats", ())],
            level=row["level"],
            message=props.get("message", row["message"]),
            logger=(props.get("log") or {}).get("logger"),
            labels=props.get("labels"),
            error=None if error is None else error["message"],
        )

    def row(self) -> tuple[Any, ...]:
        """The row of the ``logs`` table (see store/schema.py for the column order)."""
        return (
            self.site_id,
            self.ts,
            self.dataset,
            self.source_ip,
            self.method,
            self.path,
            self.route,
            None if self.status is None else float(self.status),
            self.duration,
            None if self.bytes is None else float(self.bytes),
            self.browser,
            self.os,
            self.device,
            self.country,
            self.channel,
            None if self.bot is None else ("true" if self.bot else "false"),
            self.threat,
            self.level,
            self.message[:MAX_MESSAGE_COLUMN] if self.message else self.message,
            orjson.dumps(self.props()).decode(),
        )


def _target_of(path: str | None, query: str | None) -> str | None:
    """The request target a path and query make (``url.original`` for most lines)."""
    if path is None:
        return None
    return f"{path}?{query}" if query else path


def _threat_docs(threats: Sequence[ThreatMatch]) -> list[dict[str, str]]:
    return [
        {"threat": t.threat, "rule": t.rule, "field": t.field, "evidence": t.evidence}
        for t in threats
    ]


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds") + "Z"


# ``2015-05-17T10:05:03.000Z``: neighbouring lines share their second, so cached
# (naive times only: equal aware times in different zones would print differently).
_timestamp = lru_cache(maxsize=65_536)(_iso)


def _compact(**values: Any) -> dict[str, Any]:
    """The non-empty values (ECS documents leave absent fields out)."""
    return {k: v for k, v in values.items() if v is not None and v != {} and v != ""}
