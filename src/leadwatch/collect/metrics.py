"""The collector's Prometheus metrics: what arrived, what was dropped and why, how long
each pipeline step takes, page views by channel and device, and Web Vitals."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# Buckets at the good / needs-improvement thresholds (web.dev), so the share of
# good and poor experiences is exact from the histogram: le="2.5" is "good" LCP.
VITAL_BUCKETS: dict[str, tuple[float, ...]] = {
    "LCP": (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 6.0, 10.0),
    "FCP": (0.5, 1.0, 1.5, 1.8, 2.5, 3.0, 4.0, 6.0),
    "TTFB": (0.1, 0.2, 0.4, 0.6, 0.8, 1.2, 1.8, 3.0),
    "INP": (0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0),
    "FID": (0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0),
    "CLS": (0.01, 0.05, 0.1, 0.15, 0.25, 0.5, 1.0),
}
STEP_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25)


class CollectMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.received = Counter(
            "leadwatch_events_received_total",
            "Events received by /collect (before any is dropped).",
            registry=registry,
        )
        self.dropped = Counter(
            "leadwatch_events_dropped_total",
            "Events /collect did not store, by reason (invalid, bot, blocked, unavailable).",
            ["reason"],
            registry=registry,
        )
        self.step_duration = Histogram(
            "leadwatch_collect_step_duration_seconds",
            "Time one /collect batch spends in each ingest pipeline step.",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.page_views = Counter(
            "leadwatch_page_views_total",
            "Page views stored, by channel and device class.",
            ["channel", "device"],
            registry=registry,
        )
        self.vitals = {
            name: Histogram(
                f"leadwatch_web_vitals_{name.lower()}" + ("" if name == "CLS" else "_seconds"),
                f"{name} measured by visitors' browsers"
                + (" (layout shift score)." if name == "CLS" else ", in seconds."),
                ["device"],
                buckets=buckets,
                registry=registry,
            )
            for name, buckets in VITAL_BUCKETS.items()
        }
