"""The Technical Operations page: health matrix, RED metrics of leadwatch itself,
host resources, write buffer and ingest, for one site and time range."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from leadwatch.dashboards import charts
from leadwatch.dashboards.panels import Check, Tile, byte_rate, count, percent, rate, seconds
from leadwatch.dashboards.queries import ingest, selfmetrics
from leadwatch.dashboards.sampler import MetricsHistory, Sample
from leadwatch.dashboards.status import status
from leadwatch.dashboards.timerange import TimeRange
from leadwatch.logs.queries import route_stats
from leadwatch.runtime import Runtime
from leadwatch.store.schema import utcnow


@dataclass(frozen=True)
class RouteRow:
    route: str
    requests: float
    rate: float
    client_errors: float
    server_errors: float
    error_rate: float | None
    p95: float | None
    status: str


@dataclass(frozen=True)
class Operations:
    tiles: list[Tile]
    checks: list[Check]
    routes: list[RouteRow]
    access_routes: list[dict[str, Any]]  # from ingested access logs (logs.queries)
    charts: dict[str, dict[str, Any]]
    history_since: datetime | None  # when the sampled history starts, if inside the range


def health_checks(runtime: Runtime) -> list[Check]:
    """UP/DOWN per service check: the stores (as /ready sees them), the write buffer."""
    checks = [
        Check("leadwatch", f"{name} store", result == "ok", result)
        for name, result in runtime.readiness().items()
    ]
    buffer = runtime.event_buffer
    fill = buffer.depth / buffer.max_rows
    critical = runtime.settings.dashboards.thresholds["buffer_fill"].critical
    checks.append(
        Check("leadwatch", "write buffer", fill < critical,
              f"{buffer.depth:,} of {buffer.max_rows:,} rows waiting")
    )
    return checks


def operations(runtime: Runtime, history: MetricsHistory, tr: TimeRange, site_id: str) -> Operations:
    limits = runtime.settings.dashboards.thresholds
    start = tr.start.replace(tzinfo=UTC).timestamp()
    end = tr.end.replace(tzinfo=UTC).timestamp()
    samples = history.between(start, end)

    tiles: list[Tile] = []
    route_rows: list[RouteRow] = []
    chart_options: dict[str, dict[str, Any]] = {}
    if len(samples) >= 2 and samples[-1].ts > samples[0].ts:
        first, last = samples[0], samples[-1]
        overall = selfmetrics.window(history, first, last)
        p95 = overall.quantiles[0.95]
        tiles += [
            Tile("Request rate", rate(overall.rate), "ok",
                 f"{count(overall.requests)} requests answered by leadwatch"),
            Tile("Error rate (5xx)", percent(overall.error_rate, 2),
                 status(overall.error_rate, limits["error_rate"]),
                 f"{count(overall.server_errors)} server errors, "
                 f"{count(overall.client_errors)} client errors"),
            Tile("Latency p95", seconds(p95), status(p95, limits["latency_p95_seconds"]),
                 "p50 {} · p90 {} · p99 {}".format(
                     *(seconds(overall.quantiles[q]) for q in (0.5, 0.9, 0.99)))),
        ]
        span = last.ts - first.ts
        tiles.append(Tile(
            "Network", byte_rate((last.host.net_recv_bytes - first.host.net_recv_bytes) / span),
            "ok", "received by the host; sent "
            + byte_rate((last.host.net_sent_bytes - first.host.net_sent_bytes) / span),
        ))
        route_rows = [
            RouteRow(name, w.requests, w.rate, w.client_errors, w.server_errors, w.error_rate,
                     w.quantiles[0.95], status(w.error_rate, limits["error_rate"]))
            for name, w in selfmetrics.routes(history, first, last)
        ]
        chart_options.update(_history_charts(history, samples, (start, end), tr.bucket_seconds))

    now_sample = samples[-1] if samples else history.snapshot()
    host = now_sample.host
    depth = runtime.event_buffer.depth
    fill = depth / runtime.event_buffer.max_rows
    newest = ingest.newest_event(runtime.events, site_id=site_id)
    lag = (utcnow() - newest).total_seconds() if newest else None
    tiles += [
        Tile("CPU", f"{host.cpu_percent:.0f} %", status(host.cpu_percent, limits["cpu_percent"]),
             "host, now"),
        Tile("Memory", f"{host.memory_percent:.0f} %",
             status(host.memory_percent, limits["memory_percent"]), "host, now"),
        Tile("Disk", f"{host.disk_percent:.0f} %", status(host.disk_percent, limits["disk_percent"]),
             "file system of the data directory"),
        Tile("Write buffer", count(depth), status(fill, limits["buffer_fill"]),
             f"events waiting ({percent(fill)} of capacity)"),
        Tile("Ingest lag", seconds(lag), status(lag, limits["ingest_lag_seconds"]),
             "age of the newest stored event" if newest else "no events stored yet"),
    ]

    stored = ingest.events_by_type(
        runtime.events, site_id=site_id, start=tr.start, end=tr.end, bucket_seconds=tr.bucket_seconds
    )
    if stored:
        by_type: dict[str, list[charts.Point]] = {}
        for row in stored:
            by_type.setdefault(row["type"], []).append((row["bucket"], float(row["events"])))
        chart_options["stored"] = charts.time_series(
            by_type, unit=f"events per {seconds(tr.bucket_seconds)}", stacked=True, kind="bar",
            span=(start, end),
        )
    access = route_stats(runtime.events, site_id=site_id, start=tr.start, end=tr.end, limit=25)
    for row in access:
        row["status"] = status(row["error_rate"], limits["error_rate"])
    oldest = history.oldest
    return Operations(
        tiles=tiles,
        checks=health_checks(runtime),
        routes=route_rows,
        access_routes=access,
        charts=chart_options,
        history_since=(
            datetime.fromtimestamp(oldest, UTC) if oldest is not None and oldest > start else None
        ),
    )


def _history_charts(
    history: MetricsHistory, samples: list[Sample], span: tuple[float, float], bucket_seconds: int
) -> dict[str, dict[str, Any]]:
    points = selfmetrics.downsample(samples, span[0], bucket_seconds)
    pairs = [(a, b) for a, b in pairwise(points) if b.ts > a.ts]
    windows = [selfmetrics.window(history, a, b) for a, b in pairs]
    ends = [b for _, b in pairs]
    return {
        "requests": charts.time_series(
            {
                "requests": [(w.end, w.rate) for w in windows],
                "5xx": [(w.end, w.server_errors / (w.end - w.start)) for w in windows],
                "4xx": [(w.end, w.client_errors / (w.end - w.start)) for w in windows],
            },
            unit="req/s",
            span=span,
        ),
        "latency": charts.time_series(
            {f"p{round(q * 100)}": [(w.end, w.quantiles[q]) for w in windows]
             for q in selfmetrics.QUANTILES},
            unit="seconds",
            span=span,
        ),
        "host": charts.time_series(
            {
                "CPU": [(s.ts, s.host.cpu_percent) for s in ends],
                "memory": [(s.ts, s.host.memory_percent) for s in ends],
                "disk": [(s.ts, s.host.disk_percent) for s in ends],
            },
            unit="%",
            max_value=100,
            span=span,
        ),
        "network": charts.time_series(
            {
                "sent": [(b.ts, (b.host.net_sent_bytes - a.host.net_sent_bytes) / (b.ts - a.ts))
                         for a, b in pairs],
                "received": [(b.ts, (b.host.net_recv_bytes - a.host.net_recv_bytes) / (b.ts - a.ts))
                             for a, b in pairs],
            },
            unit="bytes/s",
            span=span,
        ),
        "buffer": charts.time_series(
            {"waiting": [(s.ts, selfmetrics.buffer_depth(history, s)) for s in ends]},
            unit="events",
            span=span,
        ),
    }

