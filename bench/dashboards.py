"""The UI's pages over a large event store: p50 / p95 per panel and per full render.

Seeds ``LEADWATCH_BENCH_DASHBOARD_EVENTS`` events (default 10,000,000) spread over 30
days straight into a fresh DuckDB event store with one SQL statement (page views,
Web Vitals, form starts and submits, security events), plus a tenth as many access-log
records and a few thousand leads, then starts the app in-process and times, for each
page and the 7-day range, each panel's query (the capability function the page
calls) and the full page render (an HTTP GET through the app), ``REPEAT`` times.
Target: every page < 300 ms server time (the render's p95). Events are seeded in time
order, as ingestion appends them. The first render fills the analytics' daily rollup
(marketing/rollup.py) and is left out, like every warm-up call.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient
from tests.dashboards.conftest import as_tester

from leadwatch.app import create_app
from leadwatch.dashboards.pages import executive, leads, logs, marketing, scope, security
from leadwatch.dashboards.timerange import parse_range
from leadwatch.leads.models import Lead
from leadwatch.marketing import revenue_api
from leadwatch.marketing import routes as analytics_api
from leadwatch.settings import TIERS, load_settings
from leadwatch.store.events import open_event_store
from leadwatch.store.records import create_records_engine
from leadwatch.store.schema import utcnow

EVENTS = int(os.environ.get("LEADWATCH_BENCH_DASHBOARD_EVENTS", "10000000"))
REPEAT = int(os.environ.get("LEADWATCH_BENCH_DASHBOARD_REPEAT", "7"))
LEADS = 3000
TARGET_MS = 300.0
DAYS = 30
CHANNELS = ["Organic Search", "Paid Search", "Direct", "Email", "Referral", "Organic Social"]
PATHS = ["/", "/services/seo", "/services/ppc", "/pricing", "/contact", "/blog/a", "/blog/b"]


def _list(values: list[str]) -> str:
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def seed_events(settings: Any) -> float:
    """The events and log records, by DuckDB SQL; returns the seconds it took."""
    engine = create_records_engine(settings)
    store = open_event_store(settings, engine)
    store.migrate()
    con = store._con  # type: ignore[attr-defined]  # DuckDB: one INSERT ... SELECT per table
    started = time.perf_counter()
    end = utcnow().replace(microsecond=0)
    span = DAYS * 86_400
    types = "CASE WHEN i % 20 < 14 THEN 'pageview' WHEN i % 20 < 18 THEN 'vital' " \
            "WHEN i % 20 = 18 THEN (CASE WHEN i % 3 = 0 THEN 'form_submit' ELSE 'form_start' END) ELSE 'security' END"
    con.execute(f"""
        INSERT INTO events (site_id, ts, type, name, visitor_id, session_id, path, referrer, channel,
                            country, device, browser, os, value, props)
        SELECT 'default', TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}' - to_seconds((i * 7919) % {span}),
               {types},
               CASE WHEN i % 20 BETWEEN 14 AND 17 THEN (['LCP', 'INP', 'CLS', 'TTFB'])[i % 4 + 1]
                    WHEN i % 20 = 18 THEN 'contact' WHEN i % 20 = 19 THEN (['sqli', 'xss', 'scan'])[i % 3 + 1]
                    ELSE NULL END,
               'v' || (i // 9 % 2000000), 's' || (i // 6), ({_list(PATHS)})[i % {len(PATHS)} + 1], NULL,
               ({_list(CHANNELS)})[i % {len(CHANNELS)} + 1], (['GB', 'US', 'DE', 'FR', 'CN'])[i % 5 + 1],
               (['desktop', 'mobile', 'tablet'])[i % 3 + 1], 'Chrome', 'Windows',
               CASE WHEN i % 20 BETWEEN 14 AND 17 THEN (i % 5000) / 1000.0 ELSE NULL END,
               CASE WHEN i % 20 = 19 THEN json_object('action', (['blocked', 'flagged'])[i % 2 + 1],
                    'ip', '203.0.' || (i % 200) || '.' || (i % 97)) ELSE NULL END
        FROM range({EVENTS}) t(i)
        ORDER BY 2  -- in time order, as ingestion appends them (DuckDB's zone maps rely on it)
    """)
    con.execute(f"""
        INSERT INTO logs (site_id, ts, dataset, source_ip, method, path, route, status, duration, bytes,
                          browser, os, device, country, channel, bot, threat, level, message, props)
        SELECT 'default', TIMESTAMP '{end:%Y-%m-%d %H:%M:%S}' - to_seconds((i * 7919) % {span}), 'access',
               '192.0.2.' || (i % 250), 'GET', ({_list(PATHS)})[i % {len(PATHS)} + 1],
               ({_list(PATHS)})[i % {len(PATHS)} + 1], CASE WHEN i % 50 = 0 THEN 500 ELSE 200 END,
               (i % 900) / 1000.0, 2048, 'Chrome', 'Windows', 'desktop', 'GB', 'Direct', NULL, NULL,
               NULL, NULL, NULL
        FROM range({EVENTS // 10}) t(i)
    """)
    seconds = time.perf_counter() - started
    store.close()
    engine.dispose()
    return seconds


def seed_leads(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    now = utcnow().replace(tzinfo=UTC)
    with runtime.records.session() as session:
        for i in range(LEADS):
            at = now - timedelta(seconds=(i * 7919) % (DAYS * 86_400))
            session.add(Lead(site_id="default", created_at=at, name=f"Lead {i}", email=f"l{i}@example.com",
                             channel=CHANNELS[i % len(CHANNELS)], score=100 - i % 100, tier=TIERS[i % 5],
                             status="won" if i % 25 == 0 else "new", won_value=5000.0 if i % 25 == 0 else None,
                             follow_up_due=at + timedelta(hours=4)))


def timed(fn: Callable[[], Any]) -> list[float]:
    fn()  # warm-up (first query plans, caches)
    out = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def row(page: str, panel: str, ms: list[float]) -> dict[str, Any]:
    ms = sorted(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return {"page": page, "panel": panel, "events": EVENTS, "p50_ms": statistics.median(ms), "p95_ms": p95,
            "target_ms": TARGET_MS if panel == "full render" else None,
            "ok": (p95 < TARGET_MS) if panel == "full render" else None}


def run() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        today = utcnow().date()
        budget = {"channel": "Paid Search", "start": today - timedelta(days=40), "end": today, "amount": 40_000}
        settings = load_settings(storage={"data_dir": Path(tmp) / "data"}, synthetic={"enabled": False},
                                 marketing={"sites": {"default": {"spend": [budget]}}})
        seeded = seed_events(settings)
        rows.append({"page": "(seed)", "panel": f"{EVENTS:,} events + {EVENTS // 10:,} log records",
                     "events": EVENTS, "p50_ms": seeded * 1000, "p95_ms": None, "target_ms": None, "ok": None})
        with TestClient(as_tester(create_app(settings))) as client:
            seed_leads(client)
            runtime = client.app.state.runtime  # type: ignore[attr-defined]
            tr = parse_range("7d")

            def s() -> Any:
                # A scope ending now, as each page load has: the open day is measured afresh
                # (within one scope, the analytics reuse it; see marketing/rollup.py).
                return scope(parse_range("7d"), "default")

            def sync(coro_fn: Callable[[], Any]) -> Callable[[], Any]:
                return lambda: asyncio.run(coro_fn())

            panels: dict[str, dict[str, Callable[[], Any]]] = {
                "executive": {
                    "overview (conversion, leads per day, sources)": sync(lambda: analytics_api.overview(s(), "1d", runtime)),
                    "core web vitals": sync(lambda: analytics_api.vitals(s(), "all", runtime)),
                    "lead tiers": lambda: executive.tiers(runtime, tr, "default"),
                    "leads today": lambda: executive.leads_today(runtime, "default", ZoneInfo("UTC")),
                    "revenue impact (estimate)": sync(lambda: revenue_api.revenue_impact(s(), runtime)),
                },
                "marketing": {
                    "overview (landing pages)": sync(lambda: analytics_api.overview(s(), "1h", runtime)),
                    "funnel": sync(lambda: analytics_api.funnel(s(), runtime)),
                    "channels": sync(lambda: analytics_api.channels(s(), runtime)),
                    "attribution": sync(lambda: analytics_api.attribution(s(), "channel", None, runtime)),
                    "vitals per page + conversion by rating": sync(lambda: analytics_api.vitals(s(), "page", runtime)),
                    "lead quality by source": lambda: marketing.lead_quality_by_source(runtime, tr, "default"),
                    "channel ROI": sync(lambda: revenue_api.channel_roi(s(), "last_non_direct", runtime)),
                },
                "leads": {"inbox + tiers": lambda: leads.inbox(runtime, leads.lead_filter(tr, "default"))},
                "security": {
                    "summary": sync(lambda: security.security_api.security_summary(
                        runtime, "default", (tr.start, tr.end))),
                    "top addresses": lambda: security.top_offenders(runtime.events, "default", tr, "ip"),
                    "top countries": lambda: security.top_offenders(runtime.events, "default", tr, "country"),
                },
                "logs": {"search status>=500": sync(lambda: logs.logs(runtime, tr, "default", "status>=500", None))},
                "ops": {},
                "alerts": {},
            }
            for page, page_panels in panels.items():
                for panel, fn in page_panels.items():
                    rows.append(row(page, panel, timed(fn)))
                url = f"/ui/{page}?range=7d&refresh=0" + ("&q=status%3E%3D500" if page == "logs" else "")

                def render(url: str = url) -> None:
                    assert client.get(url).status_code == 200

                rows.append(row(page, "full render", timed(render)))
    return rows
