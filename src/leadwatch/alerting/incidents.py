"""Incidents: open, update, escalate, acknowledge and resolve, with a timeline.

Every notification goes through the persisted outbox, enqueued in the same
transaction as the incident change that causes it, so a step is either done and
its messages queued, or neither (no lost and no duplicate pages across restarts).
Acknowledge and resolve messages go to every receiver that was sent the trigger,
with the same ``dedup_key``, so PagerDuty closes the very incident it opened.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from leadwatch.alerting.models import ACKNOWLEDGED, OPEN, RESOLVED, Incident, TimelineEntry
from leadwatch.notify.base import Message
from leadwatch.notify.outbox import Outbox
from leadwatch.settings import Settings
from leadwatch.store.records import RecordStore

log = structlog.get_logger(__name__)

RANK = {"info": 0, "warning": 1, "critical": 2}
ACTIONS = ("acknowledge", "resolve")
DURATION_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14_400, 43_200, 86_400)


def dedup_key(group_labels: dict[str, str]) -> str:
    """Stable for a group, whoever reports it (embedded evaluator or Alertmanager)."""
    digest = hashlib.sha256(orjson.dumps(group_labels, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"lw-{digest[:32]}"


def link_signature(secret: bytes, incident_id: int, action: str, expires: int) -> str:
    return hmac.new(secret, f"{incident_id}:{action}:{expires}".encode(), hashlib.sha256).hexdigest()


def link_valid(secret: bytes, incident_id: int, action: str, expires: int, signature: str, at: datetime) -> bool:
    good = link_signature(secret, incident_id, action, expires)
    return hmac.compare_digest(good, signature) and at.timestamp() < expires


@dataclass(frozen=True)
class FiringAlert:
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"labels": self.labels, "annotations": self.annotations, "starts_at": self.starts_at.isoformat()}


class IncidentMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.opened = Counter("leadwatch_incidents_opened_total", "Incidents opened.", ["severity", "source"],
                              registry=registry)
        self.escalations = Counter("leadwatch_incident_escalations_total", "Escalation steps run.",
                                   ["severity"], registry=registry)
        self.open = Gauge("leadwatch_incidents_open", "Incidents not yet resolved (as of the last pass).",
                          ["severity"], registry=registry)
        self.durations = Histogram(
            "leadwatch_incident_phase_duration_seconds",
            "Detection (MTTD), acknowledgement (MTTA) and repair (MTTR) times of incidents.",
            ["phase", "severity"], buckets=DURATION_BUCKETS, registry=registry,
        )


class IncidentManager:
    def __init__(
        self,
        settings: Settings,
        records: RecordStore,
        outbox: Outbox,
        registry: CollectorRegistry,
        secret_key: Callable[[], bytes],
        clock: Callable[[], datetime],
    ):
        self.settings = settings
        self.alerting = settings.alerting
        self.records = records
        self.outbox = outbox
        self.secret_key = secret_key
        self.clock = clock
        self.metrics = IncidentMetrics(registry)
        self.base_url = settings.server.url
        missing = sorted({r for steps in self.alerting.escalation.values() for s in steps for r in s.receivers}
                         - set(settings.notify.receivers))
        if missing:
            log.warning("escalation_receivers_not_configured", receivers=missing)

    # ---- opening, updating and resolving groups ----

    def firing(self, group_labels: dict[str, str], alerts: list[FiringAlert], source: str) -> Incident:
        """The group fires these alerts now: open its incident, or update the open one."""
        key = dedup_key(group_labels)
        severity = max((a.labels.get("severity", "warning") for a in alerts), key=lambda s: RANK.get(s, 1))
        now = self.clock()
        with self.records.session() as session:
            incident = self._current(session, key)
            if incident is None:
                incident = self._open(session, key, group_labels, alerts, severity, source, now)
            else:
                known = {orjson.dumps(a["labels"], option=orjson.OPT_SORT_KEYS) for a in incident.alerts}
                for alert in alerts:
                    if orjson.dumps(alert.labels, option=orjson.OPT_SORT_KEYS) not in known:
                        self._note(incident, now, "alert", f"{_describe(alert.labels)} fires too")
                if RANK.get(severity, 1) > RANK.get(incident.severity, 1):
                    self._note(incident, now, "severity", f"severity raised to {severity}")
                    incident.severity = severity
                incident.alerts = [a.to_dict() for a in alerts]
            return incident

    def group_resolved(self, group_labels: dict[str, str], actor: str = "recovery") -> Incident | None:
        """Every alert of the group stopped firing: resolve its incident."""
        with self.records.session() as session:
            incident = self._current(session, dedup_key(group_labels))
            if incident is not None:
                self._resolve(session, incident, actor, "every alert of the group recovered")
            return incident

    def open_groups(self, source: str) -> dict[str, Incident]:
        with self.records.session() as session:
            rows = session.scalars(select(Incident).where(Incident.status != RESOLVED, Incident.source == source))
            return {i.dedup_key: i for i in rows}

    def _current(self, session: Session, key: str) -> Incident | None:
        return session.scalar(
            select(Incident).where(Incident.dedup_key == key, Incident.status != RESOLVED).order_by(Incident.id.desc())
        )

    def _open(self, session: Session, key: str, group_labels: dict[str, str], alerts: list[FiringAlert],
              severity: str, source: str, now: datetime) -> Incident:
        first = min(alerts, key=lambda a: a.starts_at)
        title = first.annotations.get("summary") or _describe(group_labels)
        incident = Incident(
            dedup_key=key, title=title[:300], severity=severity, service=group_labels.get("service"),
            source=source, status=OPEN, group_labels=group_labels, alerts=[a.to_dict() for a in alerts],
            runbook_url=first.annotations.get("runbook_url"), started_at=min(first.starts_at, now),
            opened_at=now, next_step=0, notified=[],
        )
        steps = self.alerting.escalation.get(severity, [])  # type: ignore[call-overload]
        incident.next_step_at = self._due(now, steps[0].after_seconds) if steps else None
        session.add(incident)
        session.flush()
        self._note(incident, now, "opened", f"opened from {source}: {_describe(group_labels)}")
        self.metrics.opened.labels(severity, source).inc()
        self.metrics.durations.labels("detect", severity).observe((now - incident.started_at).total_seconds())
        return incident

    def _due(self, opened_at: datetime, after_seconds: int) -> datetime:
        return opened_at + timedelta(seconds=after_seconds / self.alerting.escalation_time_scale)

    # ---- escalation ----

    def escalate_due(self) -> int:
        """Run every escalation step that is due; the number of steps run."""
        now = self.clock()
        ran = 0
        with self.records.session() as session:
            due = session.scalars(
                select(Incident).where(Incident.status == OPEN, Incident.next_step_at <= now)
                .order_by(Incident.id).with_for_update(skip_locked=True)
            ).all()
            for incident in due:
                ran += self._step(session, incident, now)
        return ran

    def _step(self, session: Session, incident: Incident, now: datetime) -> int:
        steps = self.alerting.escalation.get(incident.severity, [])  # type: ignore[call-overload]
        ran = 0
        while incident.next_step < len(steps) and incident.next_step_at is not None and incident.next_step_at <= now:
            # Claim the step before running it: another thread may have read the same due
            # incident (SQLite ignores FOR UPDATE, and reads outside a write transaction),
            # so only the one whose UPDATE still finds it open at this step pages anyone.
            claimed = session.execute(
                update(Incident)
                .where(Incident.id == incident.id, Incident.status == OPEN, Incident.next_step == incident.next_step)
                .values(next_step=incident.next_step + 1),
                execution_options={"synchronize_session": False},
            ).rowcount
            if not claimed:
                break
            step = steps[incident.next_step]
            for receiver in step.receivers:
                if receiver not in self.outbox.notifiers:
                    self._note(incident, now, "skipped", f"step {incident.next_step + 1}: receiver {receiver!r} "
                               "is not configured in notify.receivers")
                    continue
                self.outbox.enqueue(receiver, self.message(incident, "trigger"), session)
                incident.notified = sorted({*incident.notified, receiver})
                self._note(incident, now, "escalated", f"step {incident.next_step + 1}: notified {receiver}")
            self.metrics.escalations.labels(incident.severity).inc()
            incident.next_step += 1
            ran += 1
            incident.next_step_at = (
                self._due(incident.opened_at, steps[incident.next_step].after_seconds)
                if incident.next_step < len(steps) else None
            )
        return ran

    # ---- acknowledge and resolve ----

    def acknowledge(self, incident_id: int, actor: str) -> Incident | None:
        now = self.clock()
        with self.records.session() as session:
            incident = session.get(Incident, incident_id, with_for_update=True)
            if incident is None:
                return None
            if incident.status == OPEN:
                incident.status, incident.acknowledged_at, incident.acknowledged_by = ACKNOWLEDGED, now, actor
                incident.next_step_at = None
                self._note(incident, now, "acknowledged", f"acknowledged by {actor}; escalation stopped", actor)
                self.metrics.durations.labels("acknowledge", incident.severity).observe(
                    (now - incident.opened_at).total_seconds())
                self._tell(session, incident, "acknowledge")
            return incident

    def resolve(self, incident_id: int, actor: str) -> Incident | None:
        with self.records.session() as session:
            incident = session.get(Incident, incident_id, with_for_update=True)
            if incident is not None and incident.status != RESOLVED:
                self._resolve(session, incident, actor, f"resolved by {actor}")
            return incident

    def _resolve(self, session: Session, incident: Incident, actor: str, why: str) -> None:
        now = self.clock()
        incident.status, incident.resolved_at, incident.next_step_at = RESOLVED, now, None
        self._note(incident, now, "resolved", why, actor)
        self.metrics.durations.labels("repair", incident.severity).observe((now - incident.started_at).total_seconds())
        self._tell(session, incident, "resolve")

    def _tell(self, session: Session, incident: Incident, action: str) -> None:
        for receiver in incident.notified:
            if receiver in self.outbox.notifiers:
                self.outbox.enqueue(receiver, self.message(incident, action), session)

    def _note(self, incident: Incident, at: datetime, kind: str, message: str, actor: str | None = None) -> None:
        incident.timeline.append(TimelineEntry(at=at, kind=kind, message=message, actor=actor))

    # ---- messages and links ----

    def link(self, incident_id: int, action: str) -> str:
        expires = int(self.clock().timestamp()) + self.alerting.link_ttl_seconds
        sig = link_signature(self.secret_key(), incident_id, action, expires)
        return f"{self.base_url}/api/v1/incidents/{incident_id}/{action}/link?expires={expires}&sig={sig}"

    def message(self, incident: Incident, action: str) -> Message:
        verb = {"trigger": "", "acknowledge": "Acknowledged: ", "resolve": "Resolved: "}[action]
        lines = [f"{verb}{incident.title}"] + [
            f"- {a['annotations'].get('description') or _describe(a['labels'])}" for a in incident.alerts[:10]
        ]
        links = {}
        if action == "trigger":
            links = {"Acknowledge": self.link(incident.id, "acknowledge"), "Resolve": self.link(incident.id, "resolve")}
        if incident.runbook_url:
            links["Runbook"] = incident.runbook_url
        return Message(
            subject=f"[{incident.severity.upper()}] {incident.title}",
            text="\n".join(lines),
            severity=incident.severity,  # type: ignore[arg-type]
            dedup_key=incident.dedup_key,
            action=action,  # type: ignore[arg-type]
            links=links,
            facts={"incident": str(incident.id), "service": incident.service or "-",
                   "started": incident.started_at.isoformat(timespec="seconds")},
        )

    # ---- reporting ----

    def refresh_gauge(self) -> None:
        with self.records.session() as session:
            counts = dict(session.execute(
                select(Incident.severity, func.count()).where(Incident.status != RESOLVED).group_by(Incident.severity)
            ).all())
        for severity in RANK:
            self.metrics.open.labels(severity).set(counts.get(severity, 0))


def response_times(session: Session, since: datetime) -> dict[str, float | int | None]:
    """MTTD, MTTA and MTTR (seconds) of the incidents opened since ``since``."""
    rows = session.scalars(select(Incident).where(Incident.opened_at >= since)).all()

    def mean(values: list[float]) -> float | None:
        return round(sum(values) / len(values), 1) if values else None

    return {
        "incidents": len(rows),
        "mttd_seconds": mean([(i.opened_at - i.started_at).total_seconds() for i in rows]),
        "mtta_seconds": mean([(i.acknowledged_at - i.opened_at).total_seconds() for i in rows if i.acknowledged_at]),
        "mttr_seconds": mean([(i.resolved_at - i.started_at).total_seconds() for i in rows if i.resolved_at]),
    }


def _describe(labels: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(labels.items()))
