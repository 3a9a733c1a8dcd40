"""Append 1,000,000 synthetic events through the write buffer into each backend.

The clock runs from the first ``add`` to the end of ``close`` (everything committed),
so it covers the Arrow/COPY encoding and the database work, not row generation
(which includes JSON-encoding ``props``: ingest does that, in its own threads).
Targets (2-core machine): >= 300,000 rows/s into DuckDB, >= 50,000 into PostgreSQL,
the latter with PostgreSQL's default durability (fsync on).
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from leadwatch.metrics import Metrics
from leadwatch.settings import load_settings
from leadwatch.store.buffer import WriteBuffer
from leadwatch.store.events import EventStore, open_event_store
from leadwatch.store.records import create_records_engine
from leadwatch.store.schema import EVENTS, Event
from tests.servers import PostgresServer, postgres_bindir

ROWS = 1_000_000
CHUNK = 1000  # rows per add(), like a busy collector's requests
TARGETS = {"duckdb": 300_000, "postgresql": 50_000}


def synthetic_rows(n: int, seed: int = 7) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    start = datetime(2026, 10, 1)
    paths = ["/", "/services/seo", "/services/ppc", "/services/web", "/contact", "/blog/core-web-vitals"]
    channels = ["Organic Search", "Paid Search", "Direct", "Referral", "Organic Social", "Email"]
    countries = ["US", "GB", "DE", "FR", "CA", "AU", "IN"]
    devices = ["desktop", "mobile", "tablet"]
    rows = []
    for i in range(n):
        kind = rng.random()
        visitor = f"v{rng.randrange(200_000):06d}"
        if kind < 0.6:
            etype, name, value, props = "pageview", None, None, None
        elif kind < 0.9:
            etype, name = "vital", rng.choice(["LCP", "INP", "CLS", "FCP", "TTFB"])
            value, props = rng.lognormvariate(0.5, 0.6), {"rating": "good"}
        else:
            etype, name, value = "engagement", None, rng.uniform(1, 300)
            props = {"scroll": rng.randrange(101)}
        rows.append(Event(
            site_id="default",
            ts=start + timedelta(seconds=i * 2.6),
            type=etype, name=name, visitor_id=visitor, session_id=f"{visitor}-{i // 20}",
            path=rng.choice(paths), referrer=None, channel=rng.choice(channels),
            country=rng.choice(countries), device=rng.choice(devices),
            browser="Chrome", os="Android", value=value, props=props,
        ).row())
    return rows


def append(store: EventStore, rows: list[tuple[Any, ...]], workdir: Path) -> float:
    buffer = WriteBuffer(store, EVENTS, Metrics(), spill_dir=workdir / "spill",
                         flush_interval=1.0, batch_size=50_000, max_rows=len(rows) + 1)
    buffer.start()
    started = time.perf_counter()
    for i in range(0, len(rows), CHUNK):
        buffer.add(rows[i:i + CHUNK])
    buffer.close()
    elapsed = time.perf_counter() - started
    stored = store.count()
    if stored != len(rows):
        raise AssertionError(f"stored {stored} of {len(rows)} rows")
    return elapsed


def run() -> list[dict[str, object]]:
    rows = synthetic_rows(ROWS)
    results = []
    with tempfile.TemporaryDirectory(prefix="leadwatch-bench-") as tmp:
        workdir = Path(tmp)
        settings = load_settings(storage={"data_dir": workdir / "duckdb"})
        store = open_event_store(settings)
        store.migrate()
        results.append(_row("duckdb", append(store, rows, workdir)))
        store.close()

        bindir = postgres_bindir()
        if bindir is None:
            results.append({"backend": "postgresql", "note": "skipped: PostgreSQL not installed"})
            return results
        server = PostgresServer(bindir, durable=True).start()
        try:
            settings = load_settings(storage={"data_dir": workdir / "pg", "database_url": server.create_database()})
            engine = create_records_engine(settings)
            store = open_event_store(settings, engine)
            store.migrate()
            results.append(_row("postgresql", append(store, rows, workdir)))
            engine.dispose()
        finally:
            server.stop()
    return results


def _row(backend: str, elapsed: float) -> dict[str, object]:
    rate = ROWS / elapsed
    return {"backend": backend, "rows": ROWS, "seconds": round(elapsed, 2), "rows_per_s": rate,
            "target_rows_per_s": TARGETS[backend], "meets": rate >= TARGETS[backend]}
