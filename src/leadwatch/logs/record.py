"""One log record as it moves through the pipeline, and its two output forms: a row of
the ``logs`` event table and an Elastic Common Schema (ECS) document.

The record is a flat slotted object (cheap to make a million of); the nested ECS
document is built once per record, encoded once, and shared by every sink (the
``props`` column of the row *is* that document, so nothing is lost in the store).
"""

from __future__ import annotations

from dataclasses import dataclass, field
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
    threats: list[ThreatMatch] = field(default_factory=list)
    # application logs
    level: str | None = None
    message: str | None = None
    logger: str | None = None
    labels: dict[str, Any] | None = None
    error: str | None = None  # why a dead letter could not be parsed
    _json: str | None = None

    def copy_to(self, dataset: str) -> LogRecord:
        """The same record in another dataset (an attack in ``access`` is also ``security``)."""
        twin = LogRecord(**{name: getattr(self, name) for name in _FIELDS})
        twin.dataset = dataset
        twin._json = None
        return twin

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
            extra["threats"] = [
                {"threat": t.threat, "rule": t.rule, "field": t.field, "evidence": t.evidence}
                for t in threats
            ]
        if extra:
            doc["leadwatch"] = extra
        return doc

    def _source(self) -> dict[str, Any]:
        source: dict[str, Any] = {}
        if self.source_ip:
            source["ip"] = self.source_ip
        if self.source_address:
            source["address"] = self.source_address
        extra = self.geo
        if extra:
            geo = _compact(
                country_iso_code=self.country,
                region_name=extra.get("region"),
                city_name=extra.get("city"),
            )
            if geo:
                source["geo"] = geo
            if extra.get("asn") is not None:
                source["as"] = _compact(
                    number=extra["asn"], organization=_compact(name=extra.get("as_org"))
                )
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
            self.message[:2000] if self.message else self.message,
            self.json,
        )


_FIELDS = [name for name in LogRecord.__dataclass_fields__]


def _iso(ts: datetime) -> str:
    return ts.isoformat(timespec="milliseconds") + "Z"


# ``2015-05-17T10:05:03.000Z``: neighbouring lines share their second, so cached
# (naive times only: equal aware times in different zones would print differently).
_timestamp = lru_cache(maxsize=65_536)(_iso)


def _compact(**values: Any) -> dict[str, Any]:
    """The non-empty values (ECS documents leave absent fields out)."""
    return {k: v for k, v in values.items() if v is not None and v != {} and v != ""}
