"""leadwatch's own Prometheus metrics, on an explicit registry per app.

Naming follows Prometheus conventions: base units (seconds, bytes), ``_total`` for
counters, and only bounded labels: route templates, never raw paths, ids or IPs.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

# Latency buckets in seconds; 0.5 s is the latency SLO threshold and must be a bucket edge.
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
FLUSH_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """Every metric leadwatch's core exposes; capability packages add theirs to ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        r = self.registry

        self.http_requests = Counter(
            "leadwatch_http_requests_total",
            "HTTP requests answered by leadwatch.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "leadwatch_http_request_duration_seconds",
            "Time from request start to the end of the response.",
            ["method", "route"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.http_in_flight = Gauge(
            "leadwatch_http_requests_in_flight",
            "HTTP requests being handled now.",
            registry=r,
        )

        self.events_written = Counter(
            "leadwatch_events_written_total",
            "Events committed to the event store.",
            ["table"],
            registry=r,
        )
        self.events_write_retries = Counter(
            "leadwatch_events_write_retries_total",
            "Batch writes that failed and were retried.",
            ["table"],
            registry=r,
        )
        self.events_write_failures = Counter(
            "leadwatch_events_write_failures_total",
            "Events that could not be written and were spilled to disk for replay.",
            ["table"],
            registry=r,
        )
        self.write_buffer_depth = Gauge(
            "leadwatch_write_buffer_depth",
            "Events accepted but not yet written.",
            ["table"],
            registry=r,
        )
        self.flush_duration = Histogram(
            "leadwatch_write_buffer_flush_duration_seconds",
            "Time to write one batch to the event store.",
            ["table"],
            buckets=FLUSH_BUCKETS,
            registry=r,
        )
