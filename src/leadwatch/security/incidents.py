"""Security incidents: security events grouped by site, address and threat.

A (site, address, threat) has at most one open incident, and its events join it: a
unique index enforces it, so replicas grouping the same attacker's events at the same
instant share one incident. The tracker is a listener of the SecurityLog: ``record``
only queues (the request path never waits for the database), and a background thread
writes the queue to the RecordStore once a second, grouped, in one transaction. A new
incident (or one whose severity rose) is announced through the notification outbox.

An incident whose every event was contained (blocked, rate limited, banned) ends by
itself once ``security.incident_window_seconds`` pass without another event: it was
resolved when the attack stopped, ``resolved_at = last_seen_at``; a later event opens
a new one. Incidents where leadwatch only flagged or saw the attack (in logs) stay
open until an analyst judges them (resolved, benign positive or false positive; the
last two lift the automatic bans of that address and threat), in the admin API or on
the Security page; until then, later events of the same attacker join them.
"""

from __future__ import annotations

import queue
import statistics
import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadwatch.background import PeriodicService
from leadwatch.notify.base import Message, Severity
from leadwatch.security.bans import lift_bans
from leadwatch.security.clients import is_address
from leadwatch.security.detect import Threat
from leadwatch.security.events import Action, SecurityEvent
from leadwatch.security.models import SEVERITIES, SecurityIncident
from leadwatch.store.models import now
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import utc_aware

log = structlog.get_logger(__name__)

BASE_SEVERITY: dict[str, str] = {
    Threat.SQLI: "high",
    Threat.BRUTE_FORCE: "high",
    Threat.CREDENTIAL_STUFFING: "high",
    Threat.XSS: "medium",
    Threat.PATH_TRAVERSAL: "medium",
    Threat.FLOOD: "medium",
    Threat.PROBE: "low",
    Threat.SCANNER: "low",
    Threat.PROBING: "low",
    Threat.FORM_SPAM: "low",
}
CONTAINED = frozenset({Action.BLOCKED, Action.RATE_LIMITED, Action.BANNED})
# Who hears about what: developers fix injectable code; the security team handles the rest.
DEVELOPER_THREATS = frozenset({Threat.SQLI})
MAX_QUEUE = 100_000
NO_IP = "-"
OPEN = text("status = 'open'")  # the unique index's predicate (ux_security_incidents_open)

Enqueue = Callable[..., Any]  # Outbox.enqueue(receiver, message, session)


def severity_of(threat: str, events: int, escalate_at: int) -> str:
    base = SEVERITIES.index(BASE_SEVERITY.get(threat, "medium"))
    return SEVERITIES[min(base + (events >= escalate_at), len(SEVERITIES) - 1)]



_EARLIEST = datetime.min.replace(tzinfo=UTC)
_LATEST = datetime.max.replace(tzinfo=UTC)


@dataclass
class _Group:
    events: int = 0
    contained: int = 0
    first_seen: datetime = _LATEST
    last_seen: datetime = _EARLIEST
    detected: datetime = _LATEST
    evidence: str | None = None


def _groups(queued: Sequence[tuple[SecurityEvent, datetime]]) -> dict[tuple[str, str, str], _Group]:
    groups: dict[tuple[str, str, str], _Group] = defaultdict(_Group)
    for event, detected in queued:
        g = groups[(event.site_id, event.ip or NO_IP, event.threat)]
        seen = utc_aware(event.ts or detected.replace(tzinfo=None))
        first = utc_aware(event.first_seen) if event.first_seen else seen
        g.events += 1
        g.contained += event.action in CONTAINED
        g.first_seen = min(first, g.first_seen)
        g.last_seen = max(seen, g.last_seen)
        g.detected = min(detected, g.detected)
        g.evidence = event.evidence or g.evidence
    return groups


class IncidentTracker(PeriodicService):
    name = "security-incidents"
    join_timeout = 30
    # The store may be down; the events are kept for the next pass.
    failure_event = "incident_pass_failed"
    tick_on_close = True  # what was queued before the stop

    def __init__(
        self,
        records: RecordStore,
        registry: CollectorRegistry,
        *,
        window_seconds: int,
        escalate_events: int,
        receivers: dict[str, list[str]] | None = None,  # "security"/"developers" -> names
        enqueue: Enqueue | None = None,
        clock: Callable[[], datetime] = now,
        interval: float = 1.0,
    ):
        super().__init__()
        self.records = records
        self.window = timedelta(seconds=window_seconds)
        self.escalate_events = escalate_events
        self.receivers = receivers or {}
        self.enqueue = enqueue
        self.clock = clock
        self.interval = interval
        self._queue: queue.Queue[tuple[SecurityEvent, datetime]] = queue.Queue(MAX_QUEUE)
        self._pending: list[tuple[SecurityEvent, datetime]] = []  # taken from the queue, not yet written
        # One pass at a time: besides the service's own tick, a caller may run a pass at
        # once (the demo's analyst, tests); two overlapping passes would count events twice.
        self._pass = threading.Lock()
        self._open = Gauge("leadwatch_security_incidents_open", "Security incidents not yet resolved.",
                           ["severity"], registry=registry)
        for severity in SEVERITIES:
            self._open.labels(severity)

    # -- the SecurityLog listener: quick, never blocks ---------------------------------

    def __call__(self, events: Sequence[SecurityEvent]) -> None:
        recorded = self.clock()
        for event in events:
            # Detected when the event says (a log line replayed as received back then),
            # else now: never when a later pass happens to group it.
            detected = utc_aware(event.detected_at) if event.detected_at else recorded
            try:
                self._queue.put_nowait((event, detected))
            except queue.Full:  # the events are stored; only their grouping is lost
                log.warning("incident_queue_full", threat=event.threat)

    # -- the background pass ------------------------------------------------------------

    def process(self) -> None:
        """Write queued events into incidents, end the quiet contained ones, set gauges.
        Events whose pass fails (the store is down) are kept for the next one."""
        with self._pass:
            self._process()

    def _process(self) -> None:
        while len(self._pending) < MAX_QUEUE:
            try:
                self._pending.append(self._queue.get_nowait())
            except queue.Empty:
                break
        groups = _groups(self._pending)
        announce: list[SecurityIncident] = []
        with self.records.session() as session:
            self._end_quiet(session)  # an attack that stopped is over before the next opens
            for key in sorted(groups):  # the same lock order in every replica
                g = groups[key]
                incident, created = self._open_incident(session, key, g)
                before = incident.severity
                incident.events += g.events
                incident.contained += g.contained
                incident.first_seen_at = min(incident.first_seen_at, g.first_seen)
                incident.last_seen_at = max(incident.last_seen_at, g.last_seen)
                incident.last_evidence = (g.evidence or "")[:200] or incident.last_evidence
                incident.severity = severity_of(key[2], incident.events, self.escalate_events)
                if created or incident.severity != before:
                    announce.append(incident)
            session.flush()
            for incident in announce:
                self._announce(incident, session)
            counts = dict(session.execute(
                select(SecurityIncident.severity, func.count())
                .where(SecurityIncident.status == "open").group_by(SecurityIncident.severity)
            ).all())
        self._pending.clear()
        for severity in SEVERITIES:
            self._open.labels(severity).set(counts.get(severity, 0))

    def _open_incident(self, session: Any, key: tuple[str, str, str], g: _Group) -> tuple[SecurityIncident, bool]:
        """The open incident of (site, address, threat), locked, and whether this pass
        opened it. Replicas may try to open it at the same instant: the unique index
        lets one row in, and the others wait for it and join it."""
        site_id, ip, threat = key
        dialect = session.get_bind().dialect.name
        insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
        created = session.execute(
            insert(SecurityIncident)
            .values(site_id=site_id, ip=ip, threat=threat, status="open", events=0, contained=0,
                    first_seen_at=g.first_seen, detected_at=g.detected, last_seen_at=g.last_seen,
                    severity=severity_of(threat, 0, self.escalate_events))
            .on_conflict_do_nothing(index_elements=["site_id", "ip", "threat"], index_where=OPEN)
        ).rowcount == 1
        incident = session.scalars(
            select(SecurityIncident)
            .where(SecurityIncident.site_id == site_id, SecurityIncident.ip == ip,
                   SecurityIncident.threat == threat, OPEN)
            .with_for_update()
        ).one()
        return incident, created

    def _end_quiet(self, session: Any) -> None:
        quiet = session.scalars(
            select(SecurityIncident).where(
                SecurityIncident.status == "open",
                SecurityIncident.contained == SecurityIncident.events,
                SecurityIncident.last_seen_at < self.clock() - self.window,
            )
        ).all()
        for incident in quiet:
            incident.status = "resolved"
            incident.resolved_at = max(incident.last_seen_at, incident.detected_at)
            incident.resolved_by = "auto"

    def _announce(self, incident: SecurityIncident, session: Any) -> None:
        if self.enqueue is None:
            return
        team = "developers" if incident.threat in DEVELOPER_THREATS else "security"
        message = incident_message(incident)
        for receiver in self.receivers.get(team, []):
            self.enqueue(receiver, message, session)

    # -- service ---------------------------------------------------------------------------

    def tick(self) -> None:
        self.process()


def incident_message(incident: SecurityIncident) -> Message:
    severity: Severity = "critical" if incident.severity in ("high", "critical") else "warning"
    return Message(
        subject=f"[{incident.severity}] {incident.threat.replace('_', ' ')} from {incident.ip} "
        f"on {incident.site_id}",
        text=f"Security incident {incident.id}: {incident.events} event(s) of "
        f"{incident.threat} from {incident.ip} since {incident.first_seen_at:%Y-%m-%d %H:%M:%S} UTC; "
        f"{incident.contained} contained. Last evidence: {incident.last_evidence or '-'}",
        severity=severity,
        dedup_key=f"security-incident-{incident.id}",
        facts={"site": incident.site_id, "threat": incident.threat, "address": incident.ip,
               "severity": incident.severity, "events": str(incident.events)},
    )


# The verdicts that say the client did no harm: its automatic bans are lifted.
LIFTS_BANS = frozenset({"benign_positive", "false_positive"})


def mark(records: RecordStore, incident_id: int, status: str, by: str, note: str | None,
         at: datetime | None = None) -> SecurityIncident | None:
    """An analyst's verdict (``resolved``, ``benign_positive`` or ``false_positive``);
    None if no such incident.

    A benign or false positive also lifts the bans a detector made for this incident's
    address and threat: the analyst says it did no harm, so refusing that client would
    be a second mistake (a prospect locked out for an hour). Bans made by hand stay,
    and so do bans for other threats. ``resolved`` keeps the ban: the attack was real.
    The caller reloads its ban list (``BanList.reload``). ``at`` (default now) dates
    the verdict: the demo's simulated analyst judges its backfilled history in the past."""
    with records.session() as session:
        incident = session.get(SecurityIncident, incident_id)
        if incident is None:
            return None
        incident.status = status
        incident.resolved_at = incident.resolved_at or at or now()
        incident.resolved_by = by
        if note is not None:
            incident.note = note
    if status in LIFTS_BANS and is_address(incident.ip):
        lift_bans(records, incident.ip, automatic_for=incident.threat)
    return incident


# The business's targets for the security response (issue: MTTD < 5 min, MTTR < 15 min,
# under 10% of incidents false positives); the Security page grades the summary by them.
TARGETS = {"mttd_seconds": 300.0, "mttr_seconds": 900.0, "false_positive_rate": 0.10}


def summary(records: RecordStore, site_id: str | None, start: datetime, end: datetime) -> dict[str, Any]:
    """Incidents detected in [start, end): counts, MTTD, MTTR and false-positive rate."""
    with records.session() as session:
        query = select(SecurityIncident).where(
            SecurityIncident.detected_at >= start, SecurityIncident.detected_at < end)
        if site_id:
            query = query.where(SecurityIncident.site_id == site_id)
        incidents = session.scalars(query).all()
    by: dict[str, dict[str, int]] = {"severity": {s: 0 for s in SEVERITIES}, "threat": {}, "status": {}}
    ttd, ttr = [], []
    for i in incidents:
        by["severity"][i.severity] = by["severity"].get(i.severity, 0) + 1
        by["threat"][i.threat] = by["threat"].get(i.threat, 0) + 1
        by["status"][i.status] = by["status"].get(i.status, 0) + 1
        ttd.append(max(0.0, (i.detected_at - i.first_seen_at).total_seconds()))
        if i.status in ("resolved", "benign_positive") and i.resolved_at:  # a detection, dealt with
            ttr.append(max(0.0, (i.resolved_at - i.detected_at).total_seconds()))
    false_positives = by["status"].get("false_positive", 0)
    return {
        "incidents": len(incidents),
        "open": by["status"].get("open", 0),
        "by_severity": by["severity"],
        "by_threat": by["threat"],
        "by_status": by["status"],
        "mttd_seconds": statistics.fmean(ttd) if ttd else None,
        "mttr_seconds": statistics.fmean(ttr) if ttr else None,
        "false_positive_rate": false_positives / len(incidents) if incidents else None,
    }
