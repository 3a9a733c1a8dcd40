"""Prometheus metrics of the journeys, in the blackbox exporter's style.

Labels are bounded configuration only: journey and step names come from the
journey files, locations from ``synthetic.locations``, TLS targets from the steps.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from leadwatch.synthetic.journey import TOTAL_STEP
from leadwatch.synthetic.results import RunResult
from leadwatch.synthetic.state import State, Status

TIMINGS = ("LCP", "FCP", "TTFB", "INP", "FID")


class ProbeMetrics:
    def __init__(self, registry: CollectorRegistry):
        r = registry
        self.success = Gauge(
            "leadwatch_probe_success",
            "1 when the latest run of the journey from the location succeeded, else 0.",
            ["journey", "location"], registry=r,
        )
        self.duration = Gauge(
            "leadwatch_probe_duration_seconds",
            "Duration of each step of the latest run (step=total: the whole run).",
            ["journey", "step", "location"], registry=r,
        )
        self.web_vital = Gauge(
            "leadwatch_probe_web_vital_seconds",
            "Core Web Vitals timings (LCP, FCP, TTFB, INP, FID) measured by the latest browser run.",
            ["journey", "metric"], registry=r,
        )
        self.layout_shift = Gauge(
            "leadwatch_probe_cumulative_layout_shift",
            "CLS (unitless) measured by the latest browser run.",
            ["journey"], registry=r,
        )
        self.tls_expiry = Gauge(
            "leadwatch_probe_tls_expiry_seconds",
            "Seconds until the certificate of host:port expires (negative once expired).",
            ["target"], registry=r,
        )
        self.failures = Gauge(
            "leadwatch_probe_consecutive_failures",
            "Failed runs in a row of the journey from the location.",
            ["journey", "location"], registry=r,
        )
        self.state = Gauge(
            "leadwatch_probe_state",
            "1 for the journey's current state at the location (up, pending, down, recovered).",
            ["journey", "location", "state"], registry=r,
        )
        self.runs = Counter(
            "leadwatch_probe_runs_total",
            "Journey runs recorded, by result (success, failure).",
            ["journey", "location", "result"], registry=r,
        )
        self.skipped = Counter(
            "leadwatch_probe_runs_skipped_total",
            "Scheduled runs skipped because the journey's previous run was still going.",
            ["journey"], registry=r,
        )
        self.location_up = Gauge(
            "leadwatch_probe_location_up",
            "1 while the location reports within synthetic.dead_after_seconds, else 0.",
            ["location"], registry=r,
        )

    def observe(self, result: RunResult) -> None:
        j, loc = result.journey, result.location
        self.success.labels(j, loc).set(float(result.success))
        self.runs.labels(j, loc, "success" if result.success else "failure").inc()
        self.duration.labels(j, TOTAL_STEP, loc).set(result.duration)
        for step in result.steps:
            self.duration.labels(j, step.name, loc).set(step.duration)
            if "expiry_seconds" in step.details and "target" in step.details:
                self.tls_expiry.labels(step.details["target"]).set(step.details["expiry_seconds"])
        for name, value in result.vitals.items():
            if name in TIMINGS:
                self.web_vital.labels(j, name).set(value)
            elif name == "CLS":
                self.layout_shift.labels(j).set(value)

    def status_now(self, journey: str, location: str, status: Status) -> None:
        self.failures.labels(journey, location).set(status.failures)
        for state in State:
            self.state.labels(journey, location, state.value).set(float(state is status.state))
