"""Security events: every detection and every response, as rows of the EventStore.

A security event is an ``events`` row of type ``security``: ``name`` is the threat,
``path`` the request path, ``props`` the action taken and the details (the source
that saw it, the field, the rule, an evidence excerpt, an excerpt of the input when the
evidence is not the input itself, and the client IP, which the
security team needs for bans and which is kept only in these rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from leadwatch.store.schema import Event, utc_naive, utcnow

EVENT_TYPE = "security"
MAX_EVIDENCE = 200


class Action(StrEnum):
    """What leadwatch did about it."""

    BLOCKED = "blocked"  # the request was refused (403)
    FLAGGED = "flagged"  # accepted, marked, neutralised on output
    RATE_LIMITED = "rate_limited"  # refused with 429
    BANNED = "banned"  # the IP was banned
    LOGGED = "logged"  # seen after the fact (ingested logs): recorded only


@dataclass(frozen=True)
class SecurityEvent:
    site_id: str
    threat: str
    action: Action
    source: str  # "leads", "collect", "logs", "middleware", ...
    ip: str | None = None
    field: str | None = None
    rule: str | None = None
    evidence: str | None = None
    # The input that matched, as sent (an excerpt is stored): what an analyst reads
    # when the evidence is only libinjection's fingerprint (``1c``, ``s&sos``).
    sample: str | None = None
    path: str | None = None
    ts: datetime | None = None  # naive UTC; when the (last) malicious input was seen
    # For a rate detection: the first request of the burst that crossed the threshold
    # (the start of MTTD). None means ``ts``.
    first_seen: datetime | None = None
    # Naive UTC; when leadwatch detected it (the end of MTTD): when it received the
    # input, which for a log line read late is later than ``ts`` (see detection_time()).
    # None means when it is recorded.
    detected_at: datetime | None = None

    def to_event(self, country: str | None = None) -> Event:
        props: dict[str, Any] = {"action": str(self.action), "source": self.source}
        for key in ("ip", "field", "rule"):
            if getattr(self, key) is not None:
                props[key] = getattr(self, key)
        if self.evidence:
            props["evidence"] = self.evidence[:MAX_EVIDENCE]
        if self.sample and self.sample[:MAX_EVIDENCE] != props.get("evidence"):
            props["sample"] = self.sample[:MAX_EVIDENCE]
        if self.first_seen is not None:
            props["first_seen"] = self.first_seen.isoformat()
        return Event(
            site_id=self.site_id,
            ts=self.ts or utcnow(),
            type=EVENT_TYPE,
            name=self.threat,
            path=self.path,
            country=country,
            props=props,
        )


def detection_time(seen: datetime, received_at: datetime | None = None) -> datetime:
    """When leadwatch detected an input of time ``seen``, received at ``received_at``
    (default now), naive UTC: never before the input itself happened (a log line
    from a clock running ahead is detected at its own time, not earlier)."""
    received = utc_naive(received_at) if received_at is not None else utcnow()
    return max(utc_naive(seen), received)


Listener = Callable[[Sequence[SecurityEvent]], None]


class SecurityLog:
    """Records security events: into the write buffer and the metrics, and hands them
    to its listeners (the incident tracker), which must return quickly."""

    def __init__(
        self,
        add_rows: Callable[[Sequence[tuple[Any, ...]]], None],
        registry: CollectorRegistry,
        country_of: Callable[[str | None], str | None] = lambda ip: None,
    ):
        self._add_rows = add_rows
        # The attacker's country (the events' column): the Security page's top countries.
        self._country_of = country_of
        self._counter = Counter(
            "leadwatch_security_events_total",
            "Security detections and responses.",
            ["threat", "action"],
            registry=registry,
        )
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def record(self, *events: SecurityEvent) -> None:
        now = utcnow()
        events = tuple(e if e.ts else replace(e, ts=now) for e in events)
        self._add_rows([e.to_event(self._country_of(e.ip)).row() for e in events])
        for e in events:
            self._counter.labels(e.threat, str(e.action)).inc()
        for listener in self._listeners:
            listener(events)
