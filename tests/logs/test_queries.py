"""Search, technical-operations queries and retention on both backends, checked
against a computation in Python over the same records."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from leadwatch.logs.pipeline import Pipeline
from leadwatch.logs.queries import route_stats, traffic_series
from leadwatch.logs.retention import purge_store
from leadwatch.logs.search import SearchError, filters, search
from leadwatch.store.events import EventStore
from leadwatch.store.schema import LOGS

T0 = datetime(2026, 5, 17, 10, 0, 0)


def line(i: int, path: str, status: int, seconds: float, ip: str = "81.2.69.160", ua: str = "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0") -> str:
    ts = (T0 + timedelta(seconds=i)).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{ts}] "GET {path} HTTP/1.1" {status} 100 "-" "{ua}" {seconds}'


def sample() -> list[str]:
    lines = []
    for i in range(120):
        path = ["/contact", f"/leads/{i}", "/"][i % 3]
        status = 503 if i % 10 == 0 else (404 if i % 7 == 0 else 200)
        lines.append(line(i, path, status, round(0.01 * (i % 17 + 1), 3)))
    return lines


@pytest.fixture
def loaded(make_pipeline: Callable[..., Pipeline], store: EventStore) -> list[str]:
    lines = sample()
    make_pipeline().process(lines, site_id="default")
    return lines


def test_route_stats_match_python(loaded: list[str], store: EventStore) -> None:
    stats = {r["route"]: r for r in route_stats(store, site_id="default", start=T0, end=T0 + timedelta(hours=1))}
    assert set(stats) == {"/contact", "/leads/:id", "/"}
    for offset, route in enumerate(["/contact", "/leads/:id", "/"]):
        idx = [i for i in range(120) if i % 3 == offset]
        durations = [round(0.01 * (i % 17 + 1), 3) for i in idx]
        errors = sum(1 for i in idx if i % 10 == 0)
        row = stats[route]
        assert row["requests"] == 40 and row["errors"] == errors
        assert row["error_rate"] == pytest.approx(errors / 40)
        assert row["rate_per_second"] == pytest.approx(40 / 3600)
        assert row["p50"] == pytest.approx(statistics.quantiles(durations, n=100, method="inclusive")[49])
        assert row["p95"] == pytest.approx(statistics.quantiles(durations, n=100, method="inclusive")[94])


def test_traffic_series(loaded: list[str], store: EventStore) -> None:
    rows = traffic_series(store, site_id="default", start=T0, end=T0 + timedelta(hours=1), interval_seconds=60)
    assert [r["requests"] for r in rows] == [60, 60]
    assert sum(r["errors"] for r in rows) == 12
    assert rows[0]["rate_per_second"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("status>=500", lambda i: i % 10 == 0),
        ("status:5xx", lambda i: i % 10 == 0),
        ("status:404", lambda i: i % 10 != 0 and i % 7 == 0),
        ("path:/leads/*", lambda i: i % 3 == 1),
        ("-path:/leads/* status<500", lambda i: i % 3 != 1 and i % 10 != 0),
        ("route:/leads/:id duration>0.1", lambda i: i % 3 == 1 and round(0.01 * (i % 17 + 1), 3) > 0.1),
        ("country:gb bot:false", lambda i: True),
        ("contact", lambda i: i % 3 == 0),
        ('path:"/contact"', lambda i: i % 3 == 0),
        ("status!=200", lambda i: i % 10 == 0 or i % 7 == 0),
        ("threat:sqli", lambda i: False),
    ],
)
def test_search_matches_python(loaded: list[str], store: EventStore, query: str, expected: Callable[[int], bool]) -> None:
    result = search(store, filters(q=query, dataset="access"), limit=1000)
    assert result["total"] == sum(1 for i in range(120) if expected(i))
    assert len(result["records"]) == result["total"]


def test_search_threats_and_wildcard_escaping(make_pipeline: Callable[..., Pipeline], store: EventStore) -> None:
    make_pipeline().process(
        [line(0, "/a?q=%27%20OR%201=1--", 200, 0.1), line(1, "/100%_off", 200, 0.1), line(2, "/100x_off", 200, 0.1)],
        site_id="default",
    )
    assert search(store, filters(q="threat:sqli", dataset="access"))["total"] == 1
    assert search(store, filters(q="path:/100%_*", dataset="access"))["total"] == 1


def test_unknown_fields_and_bad_values_are_errors() -> None:
    for query in ("colour:red", "path>=1", "status>=x", "bot:1"):
        with pytest.raises(SearchError):
            filters(q=query)


def test_purge_keeps_each_dataset_its_days(make_pipeline: Callable[..., Pipeline], store: EventStore) -> None:
    make_pipeline().process(sample()[:10] + ["garbage"], site_id="default")
    now = T0 + timedelta(days=20)
    deleted = purge_store(store, {"access": 10, "dead-letter": 14}, now=now)
    assert deleted["access"] == 10
    assert store.count(LOGS, dataset="access") == 0
    assert store.count(LOGS, dataset="dead-letter") == 1  # written now: within 14 days
