"""The embedded evaluator: a runtime Service that, every ``evaluation_interval``,
samples the metrics registry into the history, evaluates the catalogue, applies
silences and inhibition, groups firing alerts into incidents, and (every second)
runs due escalation steps, also for incidents that Alertmanager opened.

Its facts are the same metrics Prometheus would scrape, read from this process's
registry as they land, plus ``up{job="leadwatch"}``, which here means "the stores
answer" (the process itself is evidently up).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from prometheus_client import Counter, Gauge, Histogram

from leadwatch.alerting import silences
from leadwatch.alerting.catalogue import Catalogue, load_catalogue
from leadwatch.alerting.expr import Context, labels_match, retention
from leadwatch.alerting.generate import annotations
from leadwatch.alerting.history import History, registry_samples
from leadwatch.alerting.incidents import FiringAlert, IncidentManager, dedup_key
from leadwatch.alerting.state import AlertStates, Instance
from leadwatch.background import PeriodicService

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

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
        self._lock = threading.Lock()
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
        for key, incident in open_now.items():
            if key not in still:
                self.incidents.group_resolved(incident.group_labels)

    def alerts(self) -> list[AlertView]:
        with self._lock:
            return list(self.views)

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
