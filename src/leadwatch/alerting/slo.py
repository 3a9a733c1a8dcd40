"""SLO specs and their SLIs as error ratios, in the windows of the multiwindow
multi-burn-rate method (Google SRE workbook, ch. 5) and Sloth's naming."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leadwatch.alerting.expr import AvgOverTime, Context, Expr, Recorded, Selector, SumRate, duration

if TYPE_CHECKING:
    from leadwatch.alerting.history import History

# (long window, short window, burn-rate factor, severity): page on fast burns, ticket on slow ones.
BURN_WINDOWS: tuple[tuple[int, int, float, str], ...] = (
    (3600, 300, 14.4, "critical"),
    (6 * 3600, 1800, 6.0, "critical"),
    (86_400, 2 * 3600, 3.0, "warning"),
    (3 * 86_400, 6 * 3600, 1.0, "warning"),
)
SLI_WINDOWS = (300, 1800, 3600, 2 * 3600, 6 * 3600, 86_400, 3 * 86_400)
RECORDED = "slo:sli_error:ratio_rate{}"


@dataclass(frozen=True)
class SLO:
    name: str
    service: str
    objective: float  # percent, e.g. 99.95
    period_days: int
    description: str
    burn_alerts: bool
    sli: dict[str, Any]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SLO:
        unknown = set(data) - {f for f in cls.__dataclass_fields__}
        if unknown:
            raise ValueError(f"SLO {data.get('name')!r}: unknown keys {sorted(unknown)}")
        slo = cls(
            name=str(data["name"]),
            service=str(data["service"]),
            objective=float(data["objective"]),
            period_days=int(data.get("period_days", 30)),
            description=str(data.get("description", "")),
            burn_alerts=bool(data.get("burn_alerts", True)),
            sli=dict(data["sli"]),
        )
        if not 0 < slo.objective < 100:
            raise ValueError(f"SLO {slo.name!r}: objective must be a percentage in (0, 100)")
        slo.error_ratio(300)  # refuse an SLI of unknown shape now, not at first evaluation
        return slo

    @property
    def error_budget(self) -> float:
        """The share of events allowed to be bad: 1 - objective."""
        return round(1 - self.objective / 100, 10)

    @property
    def sloth_labels(self) -> tuple[tuple[str, str], ...]:
        return (
            ("sloth_id", f"{self.service}-{self.name}"),
            ("sloth_service", self.service),
            ("sloth_slo", self.name),
        )

    def error_ratio(self, window: float) -> Expr:
        """The SLI as the share of bad events over ``window`` seconds."""
        sli = self.sli
        if "errors" in sli and "total" in sli:
            total = SumRate(Selector.parse(sli["total"]), window)
            # No error series yet means no errors, not "unknown".
            errors = SumRate(Selector.parse(sli["errors"]), window).or_(total * 0)
            return errors / total
        if "good" in sli and "total" in sli:
            total = SumRate(Selector.parse(sli["total"]), window)
            good = SumRate(Selector.parse(sli["good"]), window).or_(total * 0)
            return 1 - good / total
        if "histogram" in sli and "threshold" in sli:
            hist = Selector.parse(sli["histogram"])
            le = repr(float(sli["threshold"]))
            fast = SumRate(hist.with_metric(hist.metric + "_bucket", ("le", "=", le)), window)
            count = SumRate(hist.with_metric(hist.metric + "_count"), window)
            return 1 - fast / count
        if "probe" in sli:
            return 1 - AvgOverTime(Selector.parse(sli["probe"]), window)
        raise ValueError(
            f"SLO {self.name!r}: sli needs errors+total, good+total, histogram+threshold or probe"
        )

    def volume(self, window: float) -> Expr | None:
        """Events in ``window`` (for traffic guards), when the SLI counts events."""
        sli = self.sli
        if "total" in sli:
            return SumRate(Selector.parse(sli["total"]), window, function="increase")
        if "histogram" in sli:
            hist = Selector.parse(sli["histogram"])
            return SumRate(hist.with_metric(hist.metric + "_count"), window, function="increase")
        return None

    def recorded(self, window: float) -> Expr:
        """The SLI as Sloth records it, ``slo:sli_error:ratio_rate<window>``."""
        labels = (*self.sloth_labels, ("sloth_window", duration(window)))
        return Recorded(RECORDED.format(duration(window)), labels, self.error_ratio(window), drop=("sloth_window",))

    def burn_condition(self, severity: str) -> Expr | None:
        """Both windows of any burn-rate pair of ``severity`` above factor x budget."""
        condition: Expr | None = None
        for long, short, factor, level in BURN_WINDOWS:
            if level != severity:
                continue
            limit = factor * self.error_budget
            pair = (self.recorded(long) > limit).and_(self.recorded(short) > limit)
            condition = pair if condition is None else condition.or_(pair)
        return condition


def report(slo: SLO, history: History, at: float) -> dict[str, Any]:
    """SLI, error budget, budget remaining and burn rates from the evaluator's history.
    The period figures cover what the history holds (at most the SLO's period)."""
    period = 86_400 * slo.period_days

    def ratio(window: float) -> float | None:
        values = slo.error_ratio(window).evaluate(Context(history, at))
        value = next(iter(values.values()), None)
        return None if value is None or math.isnan(value) else value

    current, over_period = ratio(300), ratio(period)
    budget = slo.error_budget
    return {
        "name": slo.name,
        "service": slo.service,
        "description": slo.description,
        "objective_percent": slo.objective,
        "period_days": slo.period_days,
        "error_budget_ratio": budget,
        "error_budget_seconds": round(budget * period, 1),
        "sli_percent": None if over_period is None else round(100 * (1 - over_period), 6),
        "error_ratio": over_period,
        "current_burn_rate": None if current is None else round(current / budget, 6),
        "period_burn_rate": None if over_period is None else round(over_period / budget, 6),
        "error_budget_remaining_ratio": None if over_period is None else round(1 - over_period / budget, 6),
        "recording_rules": {"sli_error": RECORDED.format("5m"), "remaining": "slo:period_error_budget_remaining:ratio"},
    }


def parse_slos(items: list[dict[str, Any]]) -> list[SLO]:
    slos = [SLO.from_dict(item) for item in items]
    names = [s.name for s in slos]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(f"SLO names must be unique; repeated: {repeated}")
    return slos
