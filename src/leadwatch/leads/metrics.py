"""The lead pipeline's Prometheus metrics. Labels stay bounded: channels are the ten
channel names, tiers five, reasons the fixed REJECT_REASONS, steps the pipeline's."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

SCORE_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
STEP_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


class LeadMetrics:
    def __init__(self, registry: CollectorRegistry, overdue: Callable[[], float]):
        self.submitted = Counter(
            "leadwatch_leads_submitted_total",
            "Leads accepted (stored as real leads), by channel and tier.",
            ["channel", "tier"],
            registry=registry,
        )
        self.rejected = Counter(
            "leadwatch_leads_rejected_total",
            "Submissions not taken as leads, by reason (spam, limits, invalid...).",
            ["reason"],
            registry=registry,
        )
        self.restored = Counter(
            "leadwatch_leads_restored_total",
            "Held-back submissions a person judged genuine and restored as leads, by the "
            "reason they were held back for.",
            ["reason"],
            registry=registry,
        )
        self.score = Histogram(
            "leadwatch_lead_score",
            "Scores of accepted leads (0-100).",
            buckets=SCORE_BUCKETS,
            registry=registry,
        )
        self.unknown_fields = Counter(
            "leadwatch_leads_unknown_fields_total",
            "Fields in lead submissions that leadwatch does not know (ignored).",
            registry=registry,
        )
        self.step_duration = Histogram(
            "leadwatch_lead_intake_step_duration_seconds",
            "Time spent in each step of lead intake.",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.engagement = Counter(
            "leadwatch_lead_engagement_reads_total",
            "Leads by how their visitor's engagement was read: found (scored from the "
            "sessions), unknown (no session data: neutral), failed (the event store did "
            "not answer: neutral).",
            ["result"],
            registry=registry,
        )
        self.overdue = Gauge(
            "leadwatch_leads_followup_overdue",
            "Leads past their follow-up due time that nobody has followed up (at scrape).",
            registry=registry,
        )
        self.overdue.set_function(overdue)
