"""The embedded evaluator: a runtime Service that, every ``evaluation_interval``,
samples the metrics registry into the history, evaluates the catalogue, applies
silences and inhibition, groups firing alerts into incidents, and (every second)
runs due escalation steps, also for incidents that Alertmanager opened.

Its facts are the same metrics Prometheus would scrape, read from this process's
registry as they land, plus ``up{job="leadwatch"}``, which here means "the stores
answer" (the process itself is evidently up).

In standalone mode it is a :class:`~leadwatch.store.snapshots.Snapshotted` owner:
its snapshot holds the metric history and the alert states, so a restart or an
upgrade neither forgets budgets nor re-pages for alerts that were already firing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

import structlog
from prometheus_client import Counter, Gauge, Histogram

from leadwatch.alerting import silences
from leadwatch.alerting.catalogue import Catalogue, load_catalogue
from leadwatch.alerting.expr import Context, labels_match, retention
from leadwatch.alerting.generate import annotations
from leadwatch.alerting.history import History, registry_samples
from leadwatch.alerting.incidents import FiringAlert, IncidentManager, dedup_key
from leadwatch.alerting.state import AlertStates, Instance, alert_of
from leadwatch.background import PeriodicService
from leadwatch.store.snapshots import Snapshot

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

log = structlog.get_logger(__name__)

ESCALATION_TICK = 1.0  # seconds between checks for due escalation steps
SOURCE = "embedded"


@dataclass(frozen=True)
class AlertView:
    """A firing or pending alert as the API shows it."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: str  # pending | firing
    active_since: datetime
    value: float
    silenced: bool
    inhibited: bool


class Evaluator(PeriodicService):
    name = "alerting"
    # Each tick runs due escalation steps; an evaluation only every evaluation_interval.
    interval = ESCALATION_TICK
    run_first = True
    join_timeout = 30
    failure_event = "alert_evaluation_failed"
    # The alert states are an optional part of the history's snapshot: files without
    # them (older versions) load their history, and older versions ignore them.
    snapshot_version: ClassVar[int] = History.snapshot_version

    def __init__(self, runtime: Runtime, catalogue: Catalogue, incidents: IncidentManager,
                 clock: Callable[[], datetime] | None = None):
        super().__init__()
        self.runtime = runtime
        self.settings = runtime.settings.alerting
        self.catalogue = catalogue
        self.incidents = incidents
        self.clock = clock or (lambda: datetime.now(UTC))
        self.history = History(retention([a.expr for a in catalogue.alerts]
                                          + [s.error_ratio(86_400 * s.period_days) for s in catalogue.slos]))
        self.states = AlertStates(resolve_after=self.settings.resolve_after_seconds)
        self.views: list[AlertView] = []
        self._lock = threading.Lock()  # the states (stepped here, dumped by the snapshots) and views
        self._adopted = False  # the open incidents' alerts, taken as firing at the first evaluation
        self._next_evaluation = 0.0  # a timestamp; the first tick evaluates
        registry = runtime.metrics.registry
        self._cycles = Counter("leadwatch_alert_evaluations_total", "Evaluator cycles run.", registry=registry)
        self._failures = Counter("leadwatch_alert_evaluation_failures_total", "Evaluator cycles that failed.",
                                 registry=registry)
        self._duration = Histogram("leadwatch_alert_evaluation_duration_seconds", "Time of one evaluator cycle.",
                                   registry=registry)
        self._firing = Gauge("leadwatch_alerts_firing", "Alerts firing (embedded evaluator).", ["severity"],
                             registry=registry)

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Evaluator:
        catalogue = load_catalogue(runtime.settings.alerting)
        incidents = IncidentManager(runtime.settings, runtime.records, runtime.outbox, runtime.metrics.registry,
                                    secret_key=lambda: runtime.secret_key, clock=lambda: datetime.now(UTC))
        return cls(runtime, catalogue, incidents)

    # ---- one cycle ----

    def sample(self) -> None:
        now = self.clock().timestamp()
        samples = registry_samples(self.runtime.metrics.registry, self.history.metrics)
        if "up" in self.history.metrics:
            ok = all(v == "ok" for v in self.runtime.readiness().values())
            samples.append(("up", {"job": "leadwatch", "instance": "embedded"}, 1.0 if ok else 0.0))
        self.history.record(now, samples)

    def evaluate(self) -> list[AlertView]:
        """Evaluate the catalogue now and bring the incidents in line; the alerts."""
        with self._duration.time():
            at = self.clock()
            with self._lock:
                if not self._adopted:
                    self._adopt_open_incidents(at)
                self.states.step(self.catalogue.alerts, Context(self.history, at.timestamp()))
            with self.runtime.records.session() as session:
                active = silences.active(session, at)
            firing = self.states.firing()
            critical_services = {i.labels.get("service") for i in firing if i.labels.get("severity") == "critical"}
            views = [self._view(i, active, critical_services) for i in self.states.instances.values()]
            self._sync_incidents([v for v in views if v.state == "firing"])
        for severity in ("critical", "warning", "info"):
            self._firing.labels(severity).set(sum(1 for v in views if v.state == "firing"
                                                  and v.labels.get("severity") == severity))
        with self._lock:
            self.views = views
        return views

    def _view(self, instance: Instance, active: list[silences.Silence], critical_services: set[str | None]) -> AlertView:
        labels = instance.labels
        return AlertView(
            labels=labels,
            annotations=annotations(instance.alert, self.catalogue.runbook_base_url),
            state="firing" if instance.firing else "pending",
            active_since=datetime.fromtimestamp(instance.active_since, UTC),
            value=instance.value,
            silenced=any(labels_match(s.matchers, labels) for s in active),
            # A critical alert mutes the warnings and infos of the same service.
            inhibited=labels.get("severity") != "critical" and labels.get("service") in critical_services,
        )

    def _adopt_open_incidents(self, at: datetime) -> None:
        """Take the alerts of the incidents this evaluator left open as firing, unless
        the restored states say so already. Without this, an empty memory (no snapshot,
        one older than ``for_outage_tolerance_seconds``, or one saved before the alert
        fired and a crash) would resolve every open incident at once and open it anew,
        paging again, once ``for`` has passed. So an incident resolves only after its
        alerts have been evaluated as false for ``resolve_after_seconds``; an incident
        whose alert the catalogue no longer has resolves at the first evaluation."""
        for incident in self.incidents.open_groups(SOURCE).values():
            for alert in incident.alerts:
                rule = alert_of(self.catalogue.alerts, alert["labels"])
                if rule is not None:
                    since = datetime.fromisoformat(alert["starts_at"]).timestamp()
                    self.states.adopt(rule, dict(alert["labels"]), since, at.timestamp())
        self._adopted = True

    def _sync_incidents(self, firing: list[AlertView]) -> None:
        groups: dict[tuple[tuple[str, str], ...], list[AlertView]] = {}
        for view in firing:
            # As Alertmanager does, a group label the alert lacks is left out.
            key = tuple((k, view.labels[k]) for k in self.settings.group_by if view.labels.get(k))
            groups.setdefault(key, []).append(view)
        open_now = self.incidents.open_groups(SOURCE)
        still = set()
        for key, views in groups.items():
            group_labels = dict(key)
            heard = [v for v in views if not v.silenced and not v.inhibited]
            still.add(dedup_key(group_labels))
            if heard or dedup_key(group_labels) in open_now:
                shown = heard or views
                self.incidents.firing(group_labels, [FiringAlert(v.labels, v.annotations, v.active_since)
                                                     for v in shown], SOURCE)
        for dedup, incident in open_now.items():
            if dedup not in still:
                self.incidents.group_resolved(incident.group_labels)

    def alerts(self) -> list[AlertView]:
        with self._lock:
            return list(self.views)

    # ---- snapshots (leadwatch.store.snapshots) ----

    def dump(self) -> Snapshot:
        """The history's snapshot, its meta holding the states too (once evaluated)."""
        with self._lock:
            states = self.states.dump() if self.states.evaluated_at is not None else None
        snapshot = self.history.dump()
        if states is not None:
            snapshot.meta["states"] = states
        return snapshot

    def restore(self, snapshot: Snapshot, now: float) -> int:
        """Load the history, and the states when the downtime since their last
        evaluation is within ``for_outage_tolerance_seconds`` (else they start empty,
        as Prometheus' ``--rules.alert.for-outage-tolerance``: a condition unwatched
        that long is not taken as having held)."""
        states = AlertStates(resolve_after=self.settings.resolve_after_seconds)
        dumped = snapshot.meta.get("states")
        dropped = 0
        if dumped is not None:
            down = now - float(dumped["evaluated_at"])
            if down <= self.settings.for_outage_tolerance_seconds:
                dropped = states.restore(dumped, self.catalogue.alerts, now)
            else:
                log.info("alert_states_not_restored", downtime_seconds=round(down),
                         tolerance_seconds=self.settings.for_outage_tolerance_seconds)
        dropped += self.history.restore(snapshot, now)  # last: it raises before changing anything
        with self._lock:
            self.states = states
        return dropped

    # ---- the service ----

    def tick(self) -> None:
        now = self.clock().timestamp()
        try:
            if self.settings.embedded_evaluator and now >= self._next_evaluation:
                self._next_evaluation = now + self.settings.evaluation_interval_seconds
                self.sample()
                self.evaluate()
                self._cycles.inc()
            self.incidents.escalate_due()
            self.incidents.refresh_gauge()
        except Exception:  # counted here; logged (and retried next tick) by the service loop
            self._failures.inc()
            raise
