"""One embedded-evaluator cycle with every default alert over a realistic history.

The history holds what a busy site's leadwatch keeps after weeks of running: the
inputs of all default alerts and SLOs (HTTP counters over 30 routes x 2 methods x 5
statuses, latency and four Web Vitals histograms, leads and page views by channel,
probes for 6 journeys x 3 locations), sampled every 15 s for the last 2 hours and
every 5 minutes back to 30 days. The figure is the median time of one evaluation of
the whole catalogue (including ErrorBudgetBurn over every window of every SLO).
Target: a cycle under 1 s on a 2-core machine, i.e. well within the 15 s interval.
"""

from __future__ import annotations

import random
import statistics
import time

from leadwatch.alerting.catalogue import load_catalogue
from leadwatch.alerting.expr import Context, retention
from leadwatch.alerting.history import History
from leadwatch.alerting.state import AlertStates
from leadwatch.settings import load_settings

DAYS = 30
FINE, COARSE = 15, 300
TARGET_SECONDS = 1.0
ROUTES = [f"/route/{i}" for i in range(30)]
EDGES = ("0.1", "0.25", "0.5", "1.0", "2.5", "4.0", "+Inf")


def samples(rng: random.Random, totals: dict[tuple[str, tuple[tuple[str, str], ...]], float]):  # type: ignore[no-untyped-def]
    def bump(name: str, labels: dict[str, str], by: float) -> None:
        key = (name, tuple(sorted(labels.items())))
        totals[key] = totals.get(key, 0.0) + by

    for route in ROUTES:
        for method in ("GET", "POST"):
            for status, share in (("200", 0.97), ("301", 0.01), ("404", 0.015), ("500", 0.004), ("503", 0.001)):
                bump("leadwatch_http_requests_total", {"method": method, "route": route, "status": status},
                     5 * share)
            cumulative = 0.0
            for le in EDGES:
                cumulative += 1.0
                bump("leadwatch_http_request_duration_seconds_bucket",
                     {"method": method, "route": route, "le": le}, cumulative)
            bump("leadwatch_http_request_duration_seconds_count", {"method": method, "route": route}, 7.0)
    for vital in ("lcp_seconds", "cls", "inp_seconds", "fid_seconds"):
        for device in ("desktop", "mobile", "tablet"):
            for i, le in enumerate(EDGES):
                bump(f"leadwatch_web_vitals_{vital}_bucket", {"device": device, "le": le}, i + 1.0)
            bump(f"leadwatch_web_vitals_{vital}_count", {"device": device}, 7.0)
    for channel in ("Organic Search", "Paid Search", "Direct", "Referral", "Email"):
        bump("leadwatch_page_views_total", {"channel": channel, "device": "desktop"}, 10.0)
        bump("leadwatch_leads_submitted_total", {"channel": channel, "tier": "high"}, rng.random() < 0.3)
    out = [(name, dict(labels), value) for (name, labels), value in totals.items()]
    for journey in ("homepage", "contact-form", "pricing", "blog", "services", "careers"):
        for location in ("eu-west", "us-east", "ap-south"):
            out.append(("leadwatch_probe_success", {"journey": journey, "location": location}, 1.0))
    out.append(("up", {"job": "leadwatch", "instance": "a"}, 1.0))
    out.append(("leadwatch_leads_followup_overdue", {}, 0.0))
    return out


def run() -> list[dict[str, object]]:
    catalogue = load_catalogue(load_settings().alerting)
    exprs = [a.expr for a in catalogue.alerts] + [s.error_ratio(86_400 * s.period_days) for s in catalogue.slos]
    history = History(retention(exprs))
    rng = random.Random(7)
    totals: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    end = DAYS * 86_400.0
    t = 0.0
    while t <= end:
        history.record(t, samples(rng, totals))
        t += FINE if end - t <= 2 * 3600 else COARSE
    states = AlertStates(resolve_after=60)
    timings = []
    for i in range(9):
        started = time.perf_counter()
        states.step(catalogue.alerts, Context(history, end + i))
        timings.append(time.perf_counter() - started)
    median = statistics.median(timings)
    return [{
        "alerts": len(catalogue.alerts), "slos": len(catalogue.slos), "history_points": history.size(),
        "cycle_seconds": round(median, 4), "target_seconds": TARGET_SECONDS, "meets": median <= TARGET_SECONDS,
    }]
