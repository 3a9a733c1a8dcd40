"""The /collect ingest pipeline: named, timed steps with typed drop reasons.

parse → validate → bots → inspect → enrich → sessionise → buffer. A batch moves
through every step; an event leaves it only with a :class:`DropReason`, counted in
``leadwatch_events_dropped_total{reason}`` and reported back to the sender by index.
Only the body as a whole can fail (not JSON, not a list, too many events): that is a
4xx before any event is looked at. Nothing here waits on the event store: the last
step hands rows to the write buffer.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Annotated, Any, Literal
from urllib.parse import parse_qsl, urlsplit

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from leadwatch.collect.metrics import CollectMetrics
from leadwatch.collect.salts import DailySalts, visitor_key
from leadwatch.collect.sessions import Session, Sessions
from leadwatch.enrich.geo import NOWHERE, Geo, GeoLookup
from leadwatch.enrich.useragent import UserAgentInfo, parse_user_agent
from leadwatch.marketing.channels import DIRECT, UTM_KEYS, classify_channel, host_of, source_lists
from leadwatch.marketing.experiments import exposure_problem
from leadwatch.marketing.touch import (
    AttributionToken,
    Touch,
    Touches,
    read_touches,
    sign_touches,
)
from leadwatch.security import Field as InputField
from leadwatch.security import inspect
from leadwatch.security.events import Action, SecurityEvent, SecurityLog
from leadwatch.settings import VITALS, CollectSettings, SiteSettings
from leadwatch.store.buffer import BufferFull
from leadwatch.store.schema import json_text, utc_naive

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

MAX_PROPS_BYTES = 4096
MAX_VITAL_MS = 600_000.0


class DropReason(StrEnum):
    INVALID = "invalid"  # not an event we understand (the detail says which field)
    BOT = "bot"  # a crawler, spider, headless browser or empty user agent
    BLOCKED = "blocked"  # carries an attack (SQL injection, XSS): recorded as security event
    CONSENT = "consent"  # the site requires consent and the page had not got it
    UNAVAILABLE = "unavailable"  # the write buffer is full: the whole batch is refused (503)


class BatchError(Exception):
    """The body as a whole cannot be read; ``status`` is the 4xx to answer."""

    def __init__(self, status: int, message: str, field: str = "body"):
        super().__init__(message)
        self.status = status
        self.field = field


Text = Annotated[str | None, Field(default=None, max_length=2048)]


class EventIn(BaseModel):
    """One event as the snippet sends it. Timings arrive in milliseconds (as the
    browser measures them) and are stored in seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal[
        "pageview", "vital", "engagement", "outbound", "download", "form_start", "form_submit",
        "experiment",
    ]
    url: str = Field(min_length=1, max_length=2048)
    referrer: Text = None
    title: Annotated[str | None, Field(default=None, max_length=300)] = None
    name: Annotated[str | None, Field(default=None, max_length=128)] = None
    value: float | None = Field(None, allow_inf_nan=False, ge=0)
    props: dict[str, Any] | None = None
    token: AttributionToken = None


_EVENT_LIST = TypeAdapter(list[EventIn])


@dataclass(slots=True)
class Item:
    index: int
    event: EventIn
    path: str = "/"
    query: dict[str, str] = field(default_factory=dict)
    value: float | None = None


@dataclass
class Batch:
    site: SiteSettings
    received_at: datetime  # naive UTC
    ip: str
    user_agent: str
    body: bytes | list[Any]
    consented: bool = False
    raw: list[Any] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    agent: UserAgentInfo | None = None
    geo: Geo = NOWHERE
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    token: str | None = None

    def drop(self, items: list[Item], reason: DropReason, detail: str) -> None:
        for item in items:
            self.rejected.append({"index": item.index, "reason": str(reason), "detail": detail})


@dataclass
class Result:
    received: int
    accepted: int
    rejected: list[dict[str, Any]]
    token: str | None


class Collector:
    """Runs batches through the steps; holds what the steps share (caches, sessions)."""

    def __init__(
        self,
        settings: CollectSettings,
        *,
        metrics: CollectMetrics,
        salts: DailySalts,
        add_rows: Callable[[list[tuple[Any, ...]]], None],
        security_log: SecurityLog,
        secret_key: Callable[[], bytes],
        geo: GeoLookup,
    ):
        self.settings = settings
        self.metrics = metrics
        self.salts = salts
        self.geo = geo
        self.sessions = Sessions(timedelta(minutes=settings.session_timeout_minutes))
        self._add_rows = add_rows
        self._security_log = security_log
        self._secret_key = secret_key
        self.steps: list[tuple[str, Callable[[Batch], None]]] = [
            ("parse", self.parse),
            ("validate", self.validate),
            ("consent", self.require_consent),
            ("bots", self.drop_bots),
            ("inspect", self.inspect),
            ("enrich", self.enrich),
            ("sessionise", self.sessionise),
            ("buffer", self.buffer),
        ]
        self._step_timers = {name: metrics.step_duration.labels(name) for name, _ in self.steps}
        self._drop_counters = {r: metrics.dropped.labels(str(r)) for r in DropReason}
        # Labelled children, looked up once: ``labels()`` takes a lock and builds a key.
        self._page_view_counter = cache(metrics.page_views.labels)
        self._vital_histogram = cache(lambda name, device: metrics.vitals[name].labels(device))

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Collector:
        """The collector of a process: its metrics on the runtime's registry, its rows
        into the event buffer, its tokens signed with the runtime's secret key."""
        return cls(
            runtime.settings.collect,
            metrics=CollectMetrics(runtime.metrics.registry),
            salts=DailySalts(runtime.records),
            add_rows=runtime.event_buffer.add,
            security_log=runtime.security_log,
            secret_key=lambda: runtime.secret_key,
            geo=runtime.geo,
        )

    def salt_ready(self, when: datetime) -> bool:
        """Whether the day's salt is in memory (else the batch must run off the event loop,
        since the first batch of a day reads the record store)."""
        return self.salts.cached(when.date())

    def collect(
        self,
        site: SiteSettings,
        body: bytes | list[Any],
        *,
        ip: str,
        user_agent: str,
        received_at: datetime | None = None,
        consented: bool = False,
    ) -> Result:
        """Run one batch through every step. Raises BatchError (4xx) for an unreadable
        body and BufferFull when the write buffer refuses the rows."""
        batch = Batch(
            site=site,
            received_at=utc_naive(received_at or datetime.now(UTC)),
            ip=ip,
            user_agent=user_agent,
            body=body,
            consented=consented,
        )
        try:
            for name, step in self.steps:
                started = time.perf_counter()
                step(batch)
                self._step_timers[name].observe(time.perf_counter() - started)
        finally:
            for reject in batch.rejected:
                self._drop_counters[DropReason(reject["reason"])].inc()
        return Result(len(batch.raw), len(batch.rows), batch.rejected, batch.token)

    # ---- the steps, in order ----

    def parse(self, batch: Batch) -> None:
        if isinstance(batch.body, list):
            raw: Any = batch.body
        else:
            try:
                raw = orjson.loads(batch.body)
            except orjson.JSONDecodeError:
                raise BatchError(400, "the body is not JSON") from None
        if isinstance(raw, dict):
            raw = [raw]
        if not isinstance(raw, list) or not raw:
            raise BatchError(422, "the body must be a JSON array of events")
        if len(raw) > self.settings.max_batch_events:
            raise BatchError(
                413, f"a batch holds at most {self.settings.max_batch_events} events"
            )
        batch.raw = raw
        self.metrics.received.inc(len(raw))

    def validate(self, batch: Batch) -> None:
        try:
            # The whole batch in one call; only a batch with a bad event is validated
            # event by event, to reject that one with its reason.
            events: list[Any] = _EVENT_LIST.validate_python(batch.raw)
        except ValidationError:
            events = batch.raw
        for index, data in enumerate(events):
            try:
                event = data if isinstance(data, EventIn) else EventIn.model_validate(data)
                item = _checked(index, event)
            except ValidationError as exc:
                err = exc.errors()[0]
                where = ".".join(str(p) for p in err["loc"]) or "event"
                batch.rejected.append(
                    {"index": index, "reason": str(DropReason.INVALID), "detail": f"{where}: {err['msg']}"}
                )
            except ValueError as exc:
                batch.rejected.append(
                    {"index": index, "reason": str(DropReason.INVALID), "detail": str(exc)}
                )
            else:
                batch.items.append(item)

    def require_consent(self, batch: Batch) -> None:
        if self.settings.site(batch.site.id).consent_required and not batch.consented:
            batch.drop(batch.items, DropReason.CONSENT, "the site requires consent (c=1)")
            batch.items = []

    def drop_bots(self, batch: Batch) -> None:
        batch.agent = parse_user_agent(batch.user_agent)
        if self.settings.drop_bots and batch.agent.is_bot and batch.items:
            batch.drop(batch.items, DropReason.BOT, f"bot user agent ({batch.agent.bot})")
            batch.items = []

    def inspect(self, batch: Batch) -> None:
        kept: list[Item] = []
        for item in batch.items:
            threat = _threat_in(item.event.url) or _threat_in(item.event.referrer)
            if threat is None:
                kept.append(item)
                continue
            batch.drop([item], DropReason.BLOCKED, f"{threat[0]} in the page address")
            self._security_log.record(
                SecurityEvent(
                    site_id=batch.site.id,
                    threat=threat[0],
                    action=Action.BLOCKED,
                    source="collect",
                    ip=batch.ip,
                    field="url",
                    rule=threat[1],
                    evidence=item.event.url,
                    path=item.path,
                    ts=batch.received_at,
                    detected_at=batch.received_at,
                )
            )
        batch.items = kept

    def enrich(self, batch: Batch) -> None:
        # Per batch: one user agent, one address. Geo is looked up only when needed.
        if batch.items:
            batch.geo = self.geo.lookup(batch.ip)

    def sessionise(self, batch: Batch) -> None:
        if not batch.items:
            return
        salt = self.salts.salt(batch.received_at.date())
        visitor = visitor_key(salt, batch.site.id, batch.ip, batch.user_agent)
        agent = batch.agent or parse_user_agent(batch.user_agent)
        geo = batch.geo
        site_id = batch.site.id
        ts = batch.received_at
        # One visitor and one timestamp per batch, so one session: only the first event
        # can begin it (with its channel); every later event finds it live.
        first = batch.items[0]
        channel = (
            self._channel(first, batch.site.domain) if first.event.type == "pageview" else DIRECT
        )
        session, new = self.sessions.touch(
            site_id, visitor, batch.received_at, channel, count=len(batch.items)
        )
        place = {}
        if geo.region:
            place["region"] = geo.region
        if geo.city:
            place["city"] = geo.city
        pageviews = 0
        rows = batch.rows
        for item in batch.items:
            event = item.event
            props = dict(event.props) if event.props else {}
            if event.type == "pageview":
                pageviews += 1
                session.pageviews += 1
                if new:
                    props["entry"] = True
                    props.update({k: v for k, v in item.query.items() if k in UTM_KEYS})
                    session.touches = self._journey(item, session, event.token, batch)
                    new = False
                elif session.touches is None:
                    session.touches = self._journey(item, session, event.token, batch)
                if event.title:
                    props["title"] = event.title
                self._page_view_counter(session.channel, agent.device).inc()
            elif event.type == "vital" and event.name in self.metrics.vitals and item.value is not None:
                self._vital_histogram(event.name, agent.device).observe(item.value)
            elif event.type == "engagement":
                session.active_seconds += item.value or 0.0
            elif event.type == "download":
                session.downloads += 1
            new = False
            if place:
                props.update(place)
            # Event.row()'s tuple, built directly: an Event object per event cost a
            # third of the pipeline (tests/collect reads every column back by name).
            rows.append((
                site_id, ts, event.type, event.name, visitor, session.id, item.path,
                _clean_referrer(event.referrer) if event.type == "pageview" else None,
                session.channel, geo.country, agent.device, agent.browser, agent.os,
                item.value, json_text(props) if props else None,
            ))
        if pageviews and session.touches is not None:
            # The latest journey after the batch's page views. It changes only when a
            # session begins, so each journey is signed once, not on every page view.
            if session.signed is None or session.signed[0] is not session.touches:
                session.signed = (session.touches, sign_touches(self._secret_key(), session.touches))
            batch.token = session.signed[1]

    def buffer(self, batch: Batch) -> None:
        if not batch.rows:
            return
        try:
            self._add_rows(batch.rows)
        except BufferFull:
            self._drop_counters[DropReason.UNAVAILABLE].inc(len(batch.rows))
            batch.rows = []
            raise

    # ---- helpers ----

    def _channel(self, item: Item, site_domain: str | None) -> str:
        return _channel_of(item.event.referrer, _url_parts(item.event.url)[2], site_domain)

    def _journey(self, item: Item, session: Session, token: str | None, batch: Batch) -> Touches:
        q = item.query
        landing = Touch(
            ts=batch.received_at.replace(tzinfo=UTC),
            channel=session.channel,
            source=q.get("utm_source") or host_of(item.event.referrer),
            medium=q.get("utm_medium"),
            campaign=q.get("utm_campaign"),
            landing_path=item.path,
            referrer=_clean_referrer(item.event.referrer),
        )
        earlier = read_touches(self._secret_key(), token) if token else None
        journey = earlier.add(landing) if earlier else Touches.start(landing)
        return journey.with_session(session.id, session.started)


def _checked(index: int, event: EventIn) -> Item:
    """Type-specific rules pydantic's field types do not express."""
    problem, path, query_string = _url_parts(event.url)
    if problem is not None:
        raise ValueError(problem)
    value = event.value
    if event.type == "vital":
        if event.name not in VITALS:
            raise ValueError(f"name: a vital is one of {', '.join(VITALS)}")
        if value is None or value > MAX_VITAL_MS:
            raise ValueError(f"value: a vital needs a value from 0 to {MAX_VITAL_MS:.0f}")
        value = value if event.name == "CLS" else value / 1000.0
    elif event.type == "engagement" and value is not None:
        value = value / 1000.0  # active time, ms -> s
    elif event.type == "experiment" and (problem := exposure_problem(event.name, event.props)):
        raise ValueError(problem)
    if event.props is not None and len(orjson.dumps(event.props)) > MAX_PROPS_BYTES:
        raise ValueError(f"props: must encode to at most {MAX_PROPS_BYTES} bytes")
    if value is not None and not math.isfinite(value):
        raise ValueError("value: must be finite")
    query = dict(_query(query_string)) if event.type == "pageview" else {}
    return Item(index, event, path, query, value)


@lru_cache(maxsize=4096)
def _url_parts(url: str) -> tuple[str | None, str, str]:
    """(problem or None, path, query string) of a page address (cached: a batch's
    events share their page, and pages repeat)."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        return "url: not a URL", "/", ""
    if parts.scheme not in ("http", "https") or not hostname:
        return "url: must be an absolute http(s) URL", "/", ""
    return None, parts.path or "/", parts.query


@lru_cache(maxsize=4096)
def _query(query_string: str) -> tuple[tuple[str, str], ...]:
    """A page view's query parameters, names lower-cased (later ones win)."""
    query = dict(parse_qsl(query_string, keep_blank_values=True))
    return tuple({k.lower(): v for k, v in query.items()}.items())


@lru_cache(maxsize=4096)
def _channel_of(referrer: str | None, query_string: str, site_domain: str | None) -> str:
    """The channel of a page view, from its referrer and its page's query string (cached:
    landings repeat their referrers and campaign links)."""
    q = dict(_query(query_string))
    return classify_channel(
        referrer=referrer,
        utm_source=q.get("utm_source"),
        utm_medium=q.get("utm_medium"),
        utm_campaign=q.get("utm_campaign"),
        click_ids=[k for k in q if k in source_lists().click_ids],
        site_domain=site_domain,
    )


@lru_cache(maxsize=4096)
def _threat_in(value: str | None) -> tuple[str, str] | None:
    """The first attack found in a page address or referrer (cached: pages repeat)."""
    if not value or ("?" not in value and "%" not in value and "<" not in value):
        return None
    findings = inspect(value, InputField.QUERY)
    return (str(findings[0].threat), findings[0].rule) if findings else None


@lru_cache(maxsize=4096)
def _clean_referrer(referrer: str | None) -> str | None:
    """Scheme, host and path only: query strings can carry personal data."""
    if not referrer:
        return None
    try:
        parts = urlsplit(referrer)
    except ValueError:
        return None
    if not parts.hostname:
        return referrer.split("?", 1)[0][:300]
    return f"{parts.scheme}://{parts.hostname}{parts.path}"[:300]

