"""Synthetic monitoring speed, against local servers on 127.0.0.1 only.

- ``http_journey``: a 3-step HTTP journey (page with meta check, JSON with capture,
  a request using the capture) run 300 times in a row; p50/p95 per run.
  Target: p95 < 100 ms (the runner's own cost must be negligible next to a site's).
- ``scheduler_plan``: planning 2,000 journeys (30 s to 5 min periods, 10% jitter)
  for a simulated hour at the loop's 1 s tick; cost per tick.
  Target: < 5 ms per tick (the loop wakes every second).
- ``browser_journey``: the contact-form journey in Chromium (home with meta and Web
  Vitals, form filled, submitted, confirmation) run 5 times; median seconds per run,
  Chromium's start included. Target: < 10 s, a third of the 30 s period.
"""

from __future__ import annotations

import random
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

from tests.synthetic.sites import serve_site

from leadwatch.synthetic.browser import BrowserPool
from leadwatch.synthetic.journey import parse_journeys
from leadwatch.synthetic.runner import run_journey
from leadwatch.synthetic.scheduler import Schedule

HTTP_RUNS = 300
BROWSER_RUNS = 5
JOURNEYS = 2000
CHROMIUM = Path("/usr/bin/chromium")

HTTP_JOURNEY = {"name": "bench-http", "steps": [
    {"name": "home", "http": {"url": "${site_url}/", "expect": {"status": 200, "meta": {}}}},
    {"name": "token", "http": {"url": "${site_url}/api/token", "capture": {"tok": {"json": "token"}}}},
    {"name": "echo", "http": {"url": "${site_url}/api/echo", "headers": {"X-Token": "${tok}"},
                              "expect": {"json": {"seen": "tok-42"}}}},
]}
BROWSER_JOURNEY = {"name": "bench-browser", "timeout": "60s", "steps": [
    {"name": "home", "browser": [{"goto": "${site_url}/"}, {"expect_meta": {}},
                                 {"vitals": {"budget": {"LCP": 30}}}]},
    {"name": "form", "browser": [{"click": "a[href='/contact']"},
                                 {"fill": {"[name=name]": "Bench", "[name=email]": "b@example.com"}},
                                 {"submit": "[name=email]"}, {"wait_for_text": "Thank you"}]},
]}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def http_journey(base: str) -> dict[str, object]:
    (journey,) = parse_journeys(HTTP_JOURNEY, "bench")
    times = []
    for _ in range(HTTP_RUNS):
        result = run_journey(journey, location="bench", variables={"site_url": base})
        if not result.success:
            raise AssertionError(result.error)
        times.append(result.duration * 1000)
    p95 = _pct(times, 0.95)
    return {"benchmark": "http_journey", "runs": HTTP_RUNS, "p50_ms": _pct(times, 0.5),
            "p95_ms": p95, "target": "p95 < 100 ms", "meets": p95 < 100}


def scheduler_plan() -> dict[str, object]:
    rng = random.Random(1)
    periods = [30, 60, 120, 300]
    journeys = parse_journeys(
        [{"name": f"j{i}", "frequency": rng.choice(periods), "steps": [{"name": "s", "dns": {"name": "x"}}]}
         for i in range(JOURNEYS)], "bench")
    schedule = Schedule(journeys, now=0.0, jitter=0.1, rng=rng)
    ticks, started = 3600, 0
    begin = time.perf_counter()
    for t in range(ticks):
        due, _ = schedule.due(float(t))
        started += len(due)
        for j in due:
            schedule.finished(j.name)
    per_tick = (time.perf_counter() - begin) / ticks * 1000
    return {"benchmark": "scheduler_plan", "journeys": JOURNEYS, "runs_planned": started,
            "ms_per_tick": per_tick, "target": "< 5 ms per tick", "meets": per_tick < 5}


def browser_journey(base: str) -> dict[str, object]:
    if not CHROMIUM.exists():
        return {"benchmark": "browser_journey", "note": "skipped: Chromium not installed"}
    (journey,) = parse_journeys(BROWSER_JOURNEY, "bench")
    times = []
    with TemporaryDirectory() as tmp:
        pool = BrowserPool(1, CHROMIUM, Path(tmp))
        for _ in range(BROWSER_RUNS):
            result = run_journey(journey, location="bench", variables={"site_url": base}, browsers=pool)
            if not result.success:
                raise AssertionError(result.error)
            times.append(result.duration)
    median = statistics.median(times)
    return {"benchmark": "browser_journey", "runs": BROWSER_RUNS, "median_s": median,
            "max_s": max(times), "target": "median < 10 s", "meets": median < 10}


def run() -> list[dict[str, object]]:
    with serve_site() as (base, _):
        return [http_journey(base), scheduler_plan(), browser_journey(base)]
