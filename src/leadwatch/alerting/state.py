"""Alert instances through time, as Prometheus keeps them: a condition that becomes
true makes an instance *pending*; once it has held for the alert's ``for`` it is
*firing*; when it stops holding it is *resolved*, here only after
``resolve_after`` seconds of being false (hysteresis against flapping).

Pure and clock-free (times are passed in), so the embedded evaluator, the
generated promtool tests and the agreement tests all share it. In standalone mode
the states outlive a restart in the evaluator's snapshot (:meth:`AlertStates.dump`,
:meth:`AlertStates.restore`), as Prometheus keeps ``ALERTS_FOR_STATE``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from leadwatch.alerting.catalogue import Alert
from leadwatch.alerting.expr import Context, Labels

Change = Literal["pending", "firing", "resolved"]


@dataclass
class Instance:
    alert: Alert
    labels: dict[str, str]
    active_since: float
    value: float
    firing_since: float | None = None
    false_since: float | None = None

    @property
    def firing(self) -> bool:
        return self.firing_since is not None


@dataclass
class Transition:
    change: Change
    instance: Instance
    at: float


def alert_labels(alert: Alert, result: Labels) -> dict[str, str]:
    # As in Prometheus: the rule's static labels win over the result's own.
    return {**dict(result), **alert.static_labels(), "alertname": alert.name}


def _key(alert_key: str, labels: Mapping[str, str]) -> tuple[str, Labels]:
    """An instance's key in :attr:`AlertStates.instances`: its alert's and its labels."""
    return alert_key, tuple(sorted(labels.items()))


def alert_of(alerts: Iterable[Alert], labels: Mapping[str, str]) -> Alert | None:
    """The catalogue entry whose instance carries these labels (its name and static labels)."""
    for alert in alerts:
        if labels.get("alertname") == alert.name and all(
                labels.get(k) == v for k, v in alert.static_labels().items()):
            return alert
    return None


@dataclass
class AlertStates:
    resolve_after: float = 0.0
    instances: dict[tuple[str, Labels], Instance] = field(default_factory=dict)
    evaluated_at: float | None = None  # the last step's time: where a downtime starts

    def step(self, alerts: list[Alert], ctx: Context) -> list[Transition]:
        """Evaluate every alert at ``ctx.at`` and return what changed."""
        changes: list[Transition] = []
        now = self.evaluated_at = ctx.at
        seen: set[tuple[str, Labels]] = set()
        for alert in alerts:
            for result, value in alert.expr.evaluate(ctx).items():
                if math.isnan(value):
                    continue
                labels = alert_labels(alert, result)
                key = _key(alert.key, labels)
                seen.add(key)
                instance = self.instances.get(key)
                if instance is None:
                    instance = self.instances[key] = Instance(alert, labels, now, value)
                    changes.append(Transition("pending", instance, now))
                instance.value, instance.false_since = value, None
                if not instance.firing and now - instance.active_since >= alert.for_seconds:
                    instance.firing_since = now
                    changes.append(Transition("firing", instance, now))
        for key, instance in list(self.instances.items()):
            if key in seen:
                continue
            if not instance.firing:
                del self.instances[key]  # a pending alert that stops holding is forgotten
                continue
            instance.false_since = instance.false_since or now
            if now - instance.false_since >= self.resolve_after:
                del self.instances[key]
                changes.append(Transition("resolved", instance, now))
        return changes

    def firing(self) -> list[Instance]:
        return [i for i in self.instances.values() if i.firing]

    def adopt(self, alert: Alert, labels: dict[str, str], active_since: float, at: float) -> None:
        """Take an instance as firing since ``at`` unless it is known to fire already
        (the evaluator's start-up, for the alerts of incidents it left open). From the
        next step on it is evaluated as any other: it resolves only once its condition
        has been false for ``resolve_after``."""
        key = _key(alert.key, labels)
        known = self.instances.get(key)
        if known is None or not known.firing:
            self.instances[key] = Instance(alert, labels, active_since, math.nan, firing_since=at)

    # ---- snapshots (the evaluator's, leadwatch.store.snapshots) ----

    def dump(self) -> dict[str, Any]:
        """The instances as JSON-able data, with the time of the step they are as of."""
        return {
            "evaluated_at": self.evaluated_at,
            "instances": [
                [i.alert.key, sorted(i.labels.items()), i.active_since, None if math.isnan(i.value) else i.value,
                 i.firing_since, i.false_since]
                for i in self.instances.values()
            ],
        }

    def restore(self, dumped: Mapping[str, Any], alerts: list[Alert], now: float) -> int:
        """Take dumped states as these, the process having been down from their
        ``evaluated_at`` to ``now``; returns how many instances of alerts the catalogue
        no longer has were dropped. Raises, changing nothing, when ``dumped`` does not fit.

        A firing instance keeps its times, so a condition that still holds at the next
        step goes on firing as before (its incident neither resolved nor opened anew).
        A pending one is moved on by the downtime, as Prometheus does: ``for`` counts
        only time the condition was watched."""
        by_key = {a.key: a for a in alerts}
        down = max(0.0, now - float(dumped["evaluated_at"]))
        instances: dict[tuple[str, Labels], Instance] = {}
        dropped = 0
        for key, pairs, active_since, value, firing_since, false_since in dumped["instances"]:
            alert = by_key.get(key)
            if alert is None:
                dropped += 1
                continue
            labels = {str(k): str(v) for k, v in pairs}
            instance = Instance(alert, labels, float(active_since), math.nan if value is None else float(value),
                                None if firing_since is None else float(firing_since),
                                None if false_since is None else float(false_since))
            if not instance.firing:
                instance.active_since += down
            instances[_key(key, labels)] = instance
        self.instances, self.evaluated_at = instances, float(dumped["evaluated_at"])
        return dropped
