"""One scenario per alert: input series (in promtool's expanding notation) under which
the alert must fire. The embedded evaluator's own code simulates each scenario to
find when the alert fires and with which labels; the generator writes that as a
promtool unit test ("not firing one evaluation before, firing with these labels
and this runbook_url at"), so ``promtool test rules`` passing proves Prometheus and
the embedded evaluator agree on every default alert.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from leadwatch.alerting.catalogue import Alert, Catalogue
from leadwatch.alerting.expr import Context, Selector, retention
from leadwatch.alerting.history import History, Sample
from leadwatch.alerting.state import AlertStates

FAST_EVAL = 15  # seconds: the embedded evaluator's default interval
SLOW_EVAL = 300  # for scenarios spanning days or weeks


@dataclass(frozen=True)
class Scenario:
    alert: str
    series: dict[str, str]
    match: dict[str, str] = field(default_factory=dict)  # picks one of several same-named alerts
    interval: int = 60
    slow: bool = False
    horizon: int = 4 * 3600

    @property
    def name(self) -> str:
        return " ".join([self.alert, *(f"{k}={v}" for k, v in sorted(self.match.items()))])

    @property
    def eval_interval(self) -> int:
        return SLOW_EVAL if self.slow else FAST_EVAL

    def picks(self, alert: Alert) -> bool:
        labels = alert.static_labels()
        return alert.name == self.alert and all(labels.get(k) == v for k, v in self.match.items())


@dataclass
class Outcome:
    fires_at: int  # seconds from the start
    before: list[dict[str, str]]  # label sets of the alert's firing instances one evaluation earlier
    at: list[dict[str, str]]  # ... and when the scenario's alert fires


def expand(values: str) -> list[float | None]:
    """promtool's notation: ``a+bxn`` (n+1 values from a, step b), ``axn``, ``_``."""
    out: list[float | None] = []
    for token in values.split():
        if token == "_":
            out.append(None)
            continue
        m = re.fullmatch(r"(-?[\d.]+)(?:([+-][\d.]+)?x(\d+))?", token)
        if not m:
            raise ValueError(f"cannot expand {token!r}")
        start, step, times = float(m.group(1)), float(m.group(2) or 0), int(m.group(3) or 0)
        out.extend(start + step * i for i in range(times + 1))
    return out


def _series(text: str) -> tuple[str, dict[str, str]]:
    selector = Selector.parse(text)
    return selector.metric, {label: value for label, _, value in selector.matchers}


def simulate(catalogue: Catalogue, scenario: Scenario) -> Outcome:
    alerts = catalogue.alerts
    history = History(retention([a.expr for a in alerts]))
    states = AlertStates(resolve_after=0)
    parsed = [(*_series(s), expand(v)) for s, v in scenario.series.items()]
    length = max(len(values) for *_, values in parsed)
    recorded = 0
    firing_then: list[dict[str, str]] = []
    for at in range(0, scenario.horizon + 1, scenario.eval_interval):
        while recorded < length and recorded * scenario.interval <= at:
            samples: list[Sample] = [
                (name, labels, values[recorded])  # type: ignore[misc]
                for name, labels, values in parsed
                if recorded < len(values) and values[recorded] is not None
            ]
            history.record(recorded * scenario.interval, samples)
            recorded += 1
        states.step(alerts, Context(history, at))
        firing = [i for i in states.firing() if i.alert.name == scenario.alert]
        if any(scenario.picks(i.alert) for i in firing):
            return Outcome(at, firing_then, [i.labels for i in firing])
        firing_then = [i.labels for i in firing]
    raise AssertionError(f"scenario {scenario.name}: the alert never fired within {scenario.horizon} s")


# ---- the scenarios ----------------------------------------------------------------

HTTP = 'leadwatch_http_requests_total{{method="GET",route="/",status="{}"}}'
LATENCY = 'leadwatch_http_request_duration_seconds_{}{{method="GET",route="/"{}}}'


def _errors(per_minute_total: int, errors_from: int, errors_per_minute: int, minutes: int) -> dict[str, str]:
    return {
        HTTP.format("200"): f"0+{per_minute_total}x{minutes}",
        HTTP.format("500"): f"0x{errors_from - 1} {errors_per_minute}+{errors_per_minute}x{minutes - errors_from}",
    }


def _histogram(metric: str, edges: tuple[float, ...], slow_from: int, slow_share: float, minutes: int,
               threshold: float) -> dict[str, str]:
    """Counts of ``metric`` at 100 observations a minute: below the first edge, then
    from minute ``slow_from`` a ``slow_share`` of them between ``threshold`` and the next edge."""
    rate, slow = 100, round(100 * slow_share)
    series = {}
    for le in (*edges, "+Inf"):
        fast_only = le != "+Inf" and float(le) <= threshold
        if fast_only:
            before = f"0+{rate}x{slow_from}"
            after = f"{rate * slow_from + rate - slow}+{rate - slow}x{minutes - slow_from - 1}"
            values = f"{before} {after}"
        else:
            values = f"0+{rate}x{minutes}"
        series[metric.format("bucket", f',le="{le}"' if le == "+Inf" else f',le="{float(le)!r}"')] = values
    series[metric.format("count", "")] = f"0+{rate}x{minutes}"
    return series


def _probe(journey: str, fail_from: int, minutes: int) -> dict[str, str]:
    return {
        f'leadwatch_probe_success{{journey="{journey}",location="eu-west"}}':
            f"1x{fail_from - 1} 0x{minutes - fail_from}",
    }


def scenarios() -> Iterator[Scenario]:
    yield Scenario("SiteDown", _probe("homepage", 11, 30), horizon=30 * 60)
    yield Scenario("SyntheticFailure", _probe("pricing", 11, 30), horizon=30 * 60)
    for alert, severity in (("SecurityIncidentCritical", "high"), ("SecurityIncident", "medium")):
        yield Scenario(alert, {f'leadwatch_security_incidents_open{{severity="{severity}"}}': "0x10 1x20"},
                       horizon=30 * 60)
    yield Scenario("LeadFollowUpOverdue", {"leadwatch_leads_followup_overdue": "0x10 2x20"}, horizon=30 * 60)
    yield Scenario("ErrorRateHigh", _errors(100, 11, 10, 40), horizon=40 * 60)
    yield Scenario("AvailabilitySLOBreach", _errors(100, 11, 1, 40), horizon=40 * 60)
    yield Scenario("LatencySLOBreach", _histogram(LATENCY, (0.1, 0.25, 0.5, 1.0), 10, 1.0, 40, 0.5),
                   horizon=40 * 60)
    for alert, name, edges, threshold in (
        ("WebVitalsLCP", "lcp_seconds", (1.0, 2.5, 4.0), 2.5),
        ("WebVitalsCLS", "cls", (0.05, 0.1, 0.25), 0.1),
        ("WebVitalsINP", "inp_seconds", (0.1, 0.2, 0.5), 0.2),
        ("WebVitalsFID", "fid_seconds", (0.05, 0.1, 0.3), 0.1),
    ):
        metric = f"leadwatch_web_vitals_{name}_{{}}{{{{device=\"mobile\"{{}}}}}}"
        yield Scenario(alert, _histogram(metric, edges, 60, 1.0, 150, threshold), horizon=150 * 60)
    # Two weeks of steady leads, then none: the same hour of the previous weeks says 120.
    weeks = 2 * 7 * 288  # five-minute steps in two weeks
    yield Scenario(
        "CriticalConversionDrop",
        {
            'leadwatch_leads_submitted_total{channel="Organic Search",tier="high"}':
                f"0+10x{weeks + 24} {10 * (weeks + 24)}x40",
            'leadwatch_page_views_total{channel="Organic Search",device="desktop"}': f"0+100x{weeks + 64}",
        },
        interval=300, slow=True, horizon=(weeks + 64) * 300,
    )
    yield Scenario(
        "ConversionRateBelowTarget",
        {
            'leadwatch_conversion_rate_24h_ratio{site="default"}': "0.05x12 0.02x40",
            'leadwatch_visitors_24h{site="default"}': "900x52",
            'leadwatch_conversion_rate_24h_ratio{site="quiet"}': "0.01x52",  # too few visitors
            'leadwatch_visitors_24h{site="quiet"}': "40x52",
            "leadwatch_conversion_target_ratio": "0.03x52",
        },
        interval=300, slow=True, horizon=52 * 300,
    )
    page, ticket = {"severity": "critical"}, {"severity": "warning"}
    yield Scenario("ErrorBudgetBurn", _errors(100, 11, 5, 60), {**page, "slo": "availability"}, slow=True,
                   horizon=60 * 60)
    yield Scenario("ErrorBudgetBurn", _errors(1000, 1, 1, 120), {**ticket, "slo": "availability"}, slow=True,
                   horizon=120 * 60)
    yield Scenario("ErrorBudgetBurn", _histogram(LATENCY, (0.25, 0.5, 1.0), 10, 1.0, 60, 0.5),
                   {**page, "slo": "latency"}, slow=True, horizon=60 * 60)
    yield Scenario("ErrorBudgetBurn", _histogram(LATENCY, (0.25, 0.5, 1.0), 0, 0.1, 120, 0.5),
                   {**ticket, "slo": "latency"}, slow=True, horizon=120 * 60)
    for journey, slo in (("homepage", "synthetic-critical"), ("pricing", "synthetic")):
        for tier in (page, ticket):
            yield Scenario("ErrorBudgetBurn", _probe(journey, 11, 60), {**tier, "slo": slo}, slow=True,
                           horizon=60 * 60)
