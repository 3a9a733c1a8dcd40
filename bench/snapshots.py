"""Size and time of the metric histories' snapshots (leadwatch.store.snapshots).

- alerting: the embedded evaluator's history as bench/alerting.py builds it (every
  default alert and SLO input of a busy site, 15 s for 2 hours, 5 minutes back to 30
  days);
- dashboards: the Technical Operations page's samples for a day at 15 s
  (``dashboards.history_hours`` = 24) over 30 routes x 2 methods x 5 statuses and
  the latency histogram's 12 buckets per route.

Figures: the file's size, the median time to dump + encode + write it atomically
(fsync included), and to read + decode + restore it. Target: a write well under a
second, so the periodic save (every 5 minutes) costs nothing worth seeing.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import alerting
from leadwatch.alerting.catalogue import load_catalogue
from leadwatch.alerting.expr import retention
from leadwatch.alerting.history import History
from leadwatch.dashboards.sampler import MetricsHistory
from leadwatch.metrics import Metrics
from leadwatch.settings import load_settings
from leadwatch.store.files import write_atomic
from leadwatch.store.snapshots import Snapshotted, decode, encode

TARGET_SECONDS = 1.0
REPEAT = 5


def alerting_history() -> History:
    catalogue = load_catalogue(load_settings().alerting)
    history = History(retention([a.expr for a in catalogue.alerts]
                                + [s.error_ratio(86_400 * s.period_days) for s in catalogue.slos]))
    rng = random.Random(7)
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    end = alerting.DAYS * 86_400.0
    t = 0.0
    while t <= end:
        history.record(t, alerting.samples(rng, totals))
        t += alerting.FINE if end - t <= 2 * 3600 else alerting.COARSE
    return history


class _Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def dashboards_history(directory: Path, hours: float = 24, interval: float = 15) -> MetricsHistory:
    metrics, clock = Metrics(), _Clock()
    history = MetricsHistory(metrics.registry, directory, interval=interval, history_seconds=hours * 3600,
                             clock=clock)
    rng = random.Random(7)
    routes = [f"/route/{i}" for i in range(30)]
    for i in range(int(hours * 3600 / interval) + 1):
        clock.now = i * interval
        for route in routes:
            for method in ("GET", "POST"):
                status = rng.choices(("200", "301", "404", "500", "503"), (97, 1, 1.5, 0.4, 0.1))[0]
                metrics.http_requests.labels(method, route, status).inc()
                metrics.http_duration.labels(method, route).observe(rng.expovariate(10))
        history.record()
    return history


def measure(name: str, part: Snapshotted, directory: Path, now: float) -> dict[str, Any]:
    path = directory / f"{name}.snap"
    writes, reads = [], []
    for _ in range(REPEAT):
        started = time.perf_counter()
        write_atomic(path, encode(name, part.snapshot_version, part.dump()))
        writes.append(time.perf_counter() - started)
        started = time.perf_counter()
        part.restore(decode(path.read_bytes(), name, part.snapshot_version), now)
        reads.append(time.perf_counter() - started)
    write = statistics.median(writes)
    return {
        "snapshot": name, "bytes": path.stat().st_size, "write_seconds": round(write, 4),
        "load_seconds": round(statistics.median(reads), 4), "target_seconds": TARGET_SECONDS,
        "meets": write <= TARGET_SECONDS,
    }


def run() -> list[dict[str, Any]]:
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        history = alerting_history()
        rows = [{**measure("alerting", history, directory, alerting.DAYS * 86_400.0), "points": history.size()}]
        ops = dashboards_history(directory)
        rows.append({**measure("dashboards", ops, directory, 24 * 3600.0), "points": len(ops.dump().arrays[2])})
    return rows
