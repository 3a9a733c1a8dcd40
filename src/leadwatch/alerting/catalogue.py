"""The alert catalogue: shipped defaults (defaults.yaml) plus the user's overrides,
with each alert's condition built from its named signal and the threshold settings.

One catalogue feeds the embedded evaluator, the generated Prometheus and
Alertmanager files and the runbook links, so the three cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from leadwatch.alerting.expr import Aggregate, Binary, Expr, Quantile, Selector, SumRate, parse_duration
from leadwatch.alerting.slo import SLO, parse_slos
from leadwatch.settings import AlertingSettings

SEVERITIES = ("critical", "warning", "info")
OVERRIDABLE = {"severity", "for", "summary", "description", "enabled", "runbook", "service"}

LEADS = Selector("leadwatch_leads_submitted_total")
PAGE_VIEWS = Selector("leadwatch_page_views_total")
PROBE = Selector("leadwatch_probe_success")
# The dashboards' conversion gauges (marketing/conversion.py): leads per visitor over the
# last 24 hours per site, its visitors, and collect.conversion_target.
CONVERSION_24H = Selector("leadwatch_conversion_rate_24h_ratio")
VISITORS_24H = Selector("leadwatch_visitors_24h")
CONVERSION_TARGET = Selector("leadwatch_conversion_target_ratio")
UP = Selector("up", (("job", "=", "leadwatch"),))
VITALS = {
    "lcp": Selector("leadwatch_web_vitals_lcp_seconds"),
    "cls": Selector("leadwatch_web_vitals_cls"),
    "inp": Selector("leadwatch_web_vitals_inp_seconds"),
    "fid": Selector("leadwatch_web_vitals_fid_seconds"),
}


class CatalogueError(ValueError):
    """The catalogue (or an override file) cannot be used; the message says where."""


@dataclass(frozen=True)
class Alert:
    name: str
    severity: str
    service: str
    for_seconds: int
    runbook: str
    summary: str
    description: str
    expr: Expr
    labels: dict[str, str] = field(default_factory=dict)  # static labels beyond severity/service

    @property
    def key(self) -> str:
        """Unique within the catalogue (ErrorBudgetBurn exists per SLO and severity)."""
        return "/".join([self.name, *(f"{k}={v}" for k, v in sorted(self.labels.items())), self.severity])

    def static_labels(self) -> dict[str, str]:
        return {"severity": self.severity, "service": self.service, **self.labels}

    def runbook_url(self, base: str) -> str:
        return f"{base}/{self.runbook}.md"


@dataclass(frozen=True)
class Catalogue:
    alerts: list[Alert]
    slos: list[SLO]
    runbook_base_url: str

    def alert(self, name: str) -> list[Alert]:
        return [a for a in self.alerts if a.name == name]


Signal = Callable[[AlertingSettings, dict[str, SLO]], Expr]


def _guarded(condition: Expr, volume: Expr | None, minimum: float) -> Expr:
    """``condition and on() volume >= minimum``: no alert on too little traffic."""
    if volume is None or minimum <= 0:
        return condition
    return condition.and_(volume >= minimum, on=())


def _vital(name: str, setting: str) -> Signal:
    def build(s: AlertingSettings, _: dict[str, SLO]) -> Expr:
        hist = VITALS[name]
        count = SumRate(hist.with_metric(hist.metric + "_count"), 3600, function="increase")
        return _guarded(Quantile(0.75, hist, 3600) > getattr(s, setting), count, s.vitals_min_samples)

    return build


def _site_down(s: AlertingSettings, _: dict[str, SLO]) -> Expr:
    every_location_fails = Aggregate(PROBE, "max", ("journey",)).eq(0)
    return every_location_fails.or_(Aggregate(UP, "min").eq(0))


def _conversion_drop(s: AlertingSettings, _: dict[str, SLO]) -> Expr:
    hour = 3600

    def leads(offset: float = 0) -> Expr:
        return SumRate(LEADS, hour, offset=offset, function="increase")

    baseline: Expr = leads(604_800)
    for week in range(2, s.conversion_baseline_weeks + 1):
        baseline = baseline + leads(week * 604_800)
    drop = leads() < baseline * (s.conversion_drop_ratio / s.conversion_baseline_weeks)
    views = SumRate(PAGE_VIEWS, hour, function="increase")
    return _guarded(drop, views, s.conversion_min_hourly_page_views)


def _conversion_below_target(s: AlertingSettings, _: dict[str, SLO]) -> Expr:
    # The rate and target the Executive and Marketing pages show, so the alert fires
    # exactly when they say "below target". ``max``: every replica reports the same value.
    rate = Aggregate(CONVERSION_24H, "max", ("site",))
    below = Binary("<", rate, Aggregate(CONVERSION_TARGET, "max"), on=(), group_left=True)
    return below.and_(Aggregate(VISITORS_24H, "max", ("site",)) >= s.conversion_min_daily_visitors, on=("site",))


def _availability_breach(s: AlertingSettings, slos: dict[str, SLO]) -> Expr:
    slo = slos["availability"]
    return _guarded(slo.error_ratio(3600) > round(1 - s.availability_min, 10), slo.volume(3600), s.min_requests)


def _error_rate_high(s: AlertingSettings, slos: dict[str, SLO]) -> Expr:
    slo = slos["availability"]
    return _guarded(slo.error_ratio(300) > s.error_ratio_max, slo.volume(300), s.min_requests)


def _latency_breach(s: AlertingSettings, slos: dict[str, SLO]) -> Expr:
    slo = slos["latency"]
    hist = Selector.parse(slo.sli["histogram"])
    return _guarded(Quantile(0.95, hist, 300) > s.latency_p95_seconds, slo.volume(300), s.min_requests)


def _security(severities: str) -> Signal:
    selector = Selector("leadwatch_security_incidents_open", (("severity", "=~", severities),))
    return lambda s, _: Aggregate(selector, "max", ("severity",)) > 0


SIGNALS: dict[str, Signal] = {
    "site_down": _site_down,
    "conversion_drop": _conversion_drop,
    "conversion_below_target": _conversion_below_target,
    "vitals_lcp": _vital("lcp", "lcp_p75_seconds"),
    "vitals_cls": _vital("cls", "cls_p75"),
    "vitals_inp": _vital("inp", "inp_p75_seconds"),
    "vitals_fid": _vital("fid", "fid_p75_seconds"),
    "availability_breach": _availability_breach,
    "latency_breach": _latency_breach,
    "error_rate_high": _error_rate_high,
    "security_incident_critical": _security("critical|high"),
    "security_incident_medium": _security("medium"),
    "followup_overdue": lambda s, _: Aggregate(Selector("leadwatch_leads_followup_overdue")) > 0,
    "synthetic_failure": lambda s, _: Aggregate(PROBE, "min", ("journey", "location")).eq(0),
}

# Burn-rate alerts exist per SLO; their `for` keeps one noisy evaluation from paging.
BURN_FOR = {"critical": 120, "warning": 900}


def shipped() -> dict[str, Any]:
    text = resources.files("leadwatch.alerting").joinpath("defaults.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def load_catalogue(settings: AlertingSettings) -> Catalogue:
    """The shipped catalogue with ``settings.catalogue_file``'s overrides applied."""
    data = shipped()
    if settings.catalogue_file is not None:
        _apply_overrides(data, _read(settings.catalogue_file))
    try:
        slos = parse_slos(data["slos"])
    except (KeyError, TypeError, ValueError) as exc:
        raise CatalogueError(f"slos: {exc}") from None
    by_name = {slo.name: slo for slo in slos}
    alerts = [_alert(entry, settings, by_name) for entry in data["alerts"] if entry.get("enabled", True)]
    alerts += _burn_alerts(slos)
    return Catalogue(alerts, slos, settings.runbook_base_url)


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CatalogueError(f"alerting.catalogue_file {path}: {exc}") from None
    if not isinstance(data, dict) or set(data) - {"alerts", "slos"}:
        raise CatalogueError(f"alerting.catalogue_file {path}: a mapping with alerts and/or slos")
    return data


def _apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    alerts = {a["name"]: a for a in data["alerts"]}
    for entry in overrides.get("alerts") or []:
        name = entry.get("name")
        if name not in alerts:
            raise CatalogueError(f"alerts: no shipped alert named {name!r} (known: {sorted(alerts)})")
        unknown = set(entry) - OVERRIDABLE - {"name"}
        if unknown:
            raise CatalogueError(f"alerts.{name}: cannot override {sorted(unknown)}; only {sorted(OVERRIDABLE)}")
        alerts[name].update(entry)
    slos = {s["name"]: s for s in data["slos"]}
    for entry in overrides.get("slos") or []:
        if entry.get("name") in slos:
            slos[entry["name"]].update(entry)
        else:
            data["slos"].append(entry)


def _alert(entry: dict[str, Any], settings: AlertingSettings, slos: dict[str, SLO]) -> Alert:
    name = entry.get("name", "?")
    try:
        if entry["severity"] not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}")
        wait = entry.get("for", "0s")
        for_seconds = getattr(settings, wait) if wait in AlertingSettings.model_fields else parse_duration(wait)
        expr = SIGNALS[entry["signal"]](settings, slos)
        return Alert(
            name=name,
            severity=entry["severity"],
            service=entry["service"],
            for_seconds=int(for_seconds),
            runbook=entry["runbook"],
            summary=entry["summary"],
            description=entry["description"],
            expr=expr,
        )
    except KeyError as exc:
        raise CatalogueError(f"alerts.{name}: missing or unknown {exc}") from None
    except ValueError as exc:
        raise CatalogueError(f"alerts.{name}: {exc}") from None


def _burn_alerts(slos: list[SLO]) -> list[Alert]:
    alerts = []
    for slo in slos:
        if not slo.burn_alerts:
            continue
        for severity, kind in (("critical", "page"), ("warning", "ticket")):
            condition = slo.burn_condition(severity)
            assert condition is not None
            alerts.append(Alert(
                name="ErrorBudgetBurn",
                severity=severity,
                service=slo.service,
                for_seconds=BURN_FOR[severity],
                runbook="slo-burn",
                summary=f"The {slo.name} SLO burns its error budget too fast ({kind}).",
                description=f"{slo.description} Objective {slo.objective}% over {slo.period_days} days; "
                f"both windows of a {kind} burn-rate pair are above their limit.",
                expr=condition,
                labels={"slo": slo.name},
            ))
    return alerts
