"""Alert instances through time, as Prometheus keeps them: a condition that becomes
true makes an instance *pending*; once it has held for the alert's ``for`` it is
*firing*; when it stops holding it is *resolved*, here only after
``resolve_after`` seconds of being false (hysteresis against flapping).

Pure and clock-free (times are passed in), so the embedded evaluator, the
generated promtool tests and the agreement tests all share it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

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


@dataclass
class AlertStates:
    resolve_after: float = 0.0
    instances: dict[tuple[str, Labels], Instance] = field(default_factory=dict)

    def step(self, alerts: list[Alert], ctx: Context) -> list[Transition]:
        """Evaluate every alert at ``ctx.at`` and return what changed."""
        changes: list[Transition] = []
        now = ctx.at
        seen: set[tuple[str, Labels]] = set()
        for alert in alerts:
            for result, value in alert.expr.evaluate(ctx).items():
                if math.isnan(value):
                    continue
                labels = alert_labels(alert, result)
                key = (alert.key, tuple(sorted(labels.items())))
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
