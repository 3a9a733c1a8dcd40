"""The Guard: leadwatch's security policy in one place. It decides, for what the
middleware, the login endpoint and the log pipeline saw, what it means (inspection,
rate detectors) and what to do (refuse, rate-limit, ban, record, flag).

Every source gets the same answers: a request blocked inline and the same request
read later from nginx's access log are the same threat, the latter only ``logged``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter

from leadwatch.security.bans import BanList
from leadwatch.security.clients import is_address, is_trusted, networks, never_banned
from leadwatch.security.detect import Field, Finding, Inspector, Threat
from leadwatch.security.detectors import Detection, Observed, RateDetectors, route
from leadwatch.security.events import Action, SecurityEvent, SecurityLog, detection_time
from leadwatch.security.rates import Clock, TokenBucket
from leadwatch.settings import SecuritySettings
from leadwatch.store.schema import utcnow

log = structlog.get_logger(__name__)

REQUEST_THREATS = frozenset({Threat.SQLI, Threat.XSS, Threat.PATH_TRAVERSAL, Threat.PROBE, Threat.SCANNER})


@dataclass(frozen=True)
class Seen:
    """A finding and where in the request it was."""

    finding: Finding
    where: str  # "path", "query.id", "form.message", "header.referer", "cookie.sid"
    value: str = ""  # the input as sent: the analyst's sample when the evidence is a fingerprint

    @property
    def threat(self) -> Threat:
        return self.finding.threat


class AccessRecord(Protocol):
    """What the guard reads of a parsed access-log line (leadwatch.logs.record.LogRecord)."""

    site_id: str
    ts: datetime
    source_ip: str | None
    method: str | None
    path: str | None
    status: int | None
    threats: Sequence[Any]  # items with .threat, .rule, .field, .evidence


class Guard:
    def __init__(
        self,
        settings: SecuritySettings,
        security_log: SecurityLog,
        bans: BanList,
        registry: CollectorRegistry,
        *,
        site_id: str = "default",
        clock: Clock = time.time,
        bucket_clock: Clock = time.monotonic,
    ):
        self.settings = settings
        self.log = security_log
        self.bans = bans
        self.site_id = site_id  # the site whose requests this guard sees inline
        self.clock = clock
        self.trusted_proxies = networks(settings.trusted_proxies)
        self.never_ban = never_banned(settings)
        self.secret_fields = {route(spec): frozenset(names) for spec, names in settings.secret_fields.items()}
        # Asked on every request: the answer for an address is kept (bounded).
        self.exempt: Callable[[str], bool] = lru_cache(maxsize=4096)(
            lambda ip: is_trusted(ip, self.never_ban))
        self.refused = Counter(
            "leadwatch_security_refused_requests_total",
            "Requests the security middleware refused, by reason (banned, rate_limited, attack).",
            ["reason"],
            registry=registry,
        )
        self.inspector = Inspector(settings.disabled_rules)
        self._rule_ids = frozenset(r.id for r in self.inspector.rules)
        self.detectors = RateDetectors(settings, clock)
        self.bucket = TokenBucket(settings.flood_requests_per_minute / 60.0, settings.flood_burst, bucket_clock)
        self.block = frozenset(Threat(t) for t in settings.block_threats)
        self.ban_on = frozenset(Threat(t) for t in settings.ban_threats)

    # -- inline, before the app answers ---------------------------------------------------

    def inspect(self, values: Iterable[tuple[Field, str, str]]) -> list[Seen]:
        """Findings in ``(field kind, where, value)`` triples, one per threat (the first seen)."""
        found: dict[Threat, Seen] = {}
        for field, where, value in values:
            for finding in self.inspector.inspect(value, field):
                found.setdefault(finding.threat, Seen(finding, where, value))
        return list(found.values())

    def blocks(self, seen: list[Seen]) -> bool:
        return any(s.threat in self.block for s in seen)

    def findings_events(
        self, seen: list[Seen], *, site_id: str, ip: str, path: str, source: str, blocked: bool,
    ) -> list[SecurityEvent]:
        return [
            SecurityEvent(
                site_id=site_id, threat=str(s.threat),
                action=Action.BLOCKED if blocked else Action.FLAGGED, source=source, ip=ip,
                field=s.where, rule=s.finding.rule,
                evidence=s.finding.evidence, sample=s.value, path=path[:2048],
            )
            for s in seen
        ]

    # -- after the answer (or from a log) -------------------------------------------------

    def observe(
        self, req: Observed, source: str, action: Action = Action.LOGGED, *,
        received_at: datetime | None = None,
    ) -> list[SecurityEvent]:
        """Count an answered request; record and respond to the detections it completes.
        ``received_at``: when leadwatch received the request (a log line: when the line
        reached it; default now). Blocking I/O (a ban is written to the store): call
        from a worker thread."""
        return self.respond(self.detectors.observe(req), source, action, received_at=received_at)

    def login_failure(self, site_id: str, ip: str, username: str) -> list[SecurityEvent]:
        return self.respond(self.detectors.login_failure(site_id, ip, username), "login", Action.LOGGED)

    def respond(
        self, detections: list[Detection], source: str, action: Action, *,
        received_at: datetime | None = None,
    ) -> list[SecurityEvent]:
        """Record ``detections``, detected when the request that completed each was
        received (``received_at``, default now), and ban where the policy says so (an
        address never banned is recorded only: a flood from loopback says a proxy
        is missing from ``security.trusted_proxies``)."""
        events = []
        for d in detections:
            taken = action
            detected = detection_time(d.at, received_at)
            exempt = self.exempt(d.ip)
            if d.threat in self.ban_on and is_address(d.ip) and not exempt and self._ban(d, detected):
                taken = Action.BANNED
            elif d.threat is Threat.FLOOD and action is not Action.LOGGED and not exempt:
                taken = Action.RATE_LIMITED
            events.append(SecurityEvent(
                site_id=d.site_id, threat=str(d.threat), action=taken, source=source, ip=d.ip,
                rule=f"rate.{d.threat}", evidence=d.evidence, path=d.path, ts=d.at,
                first_seen=d.first_seen, detected_at=detected,
            ))
        if events:
            self.log.record(*events)
        return events

    def _ban(self, d: Detection, detected: datetime) -> bool:
        """Ban ``d.ip`` for ``ban_seconds`` from the detection; whether it was banned.
        A detection replayed from further back than that made a ban that is already
        over: none is made (its event says ``logged``, not ``banned``)."""
        ends = detected + timedelta(seconds=self.settings.ban_seconds)
        if ends <= utcnow():
            log.debug("ban_already_over", threat=str(d.threat), ip=d.ip,
                      detected_at=detected.isoformat(), ended_at=ends.isoformat())
            return False
        self.bans.ban(d.ip, seconds=self.settings.ban_seconds, threat=str(d.threat),
                      reason=f"{d.threat.replace('_', ' ')}: {d.evidence}", since=detected)
        return True

    def observe_log(self, record: AccessRecord, received_at: datetime | None = None) -> None:
        """A subscriber of the log pipeline: one parsed access-log line, counted by the
        rate detectors at the line's own time, and detected when the line was received.
        (The pipeline records its content findings itself.)"""
        if not record.source_ip or record.status is None or record.path is None:
            return
        at = record.ts.timestamp() if record.ts.tzinfo else (record.ts - _EPOCH).total_seconds()
        req = Observed(
            site_id=record.site_id, ip=record.source_ip, method=(record.method or "GET").upper(),
            path=record.path, status=record.status, at=at,
            # The pipeline inspects with every rule; honour security.disabled_rules here.
            probe=any(t.threat == Threat.PROBE and t.rule in self._rule_ids for t in record.threats),
        )
        self.observe(req, "logs", received_at=received_at)


_EPOCH = datetime(1970, 1, 1)

