"""GET /api/v1/analytics/*: hand-checked numbers, the same on DuckDB and PostgreSQL
(the ``client`` fixture runs every test on both backends)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.leads.models import Lead
from leadwatch.marketing.touch import Touch, Touches
from tests.conftest import ADMIN

DAY = datetime(2026, 11, 10, 0, 0)
DESKTOP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
MOBILE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
SITE = "https://rebootmedia.example"
RANGE = {"site": "default", "from": "2026-11-10T00:00:00", "to": "2026-11-11T00:00:00"}


def visit(client: TestClient, ip: str, ua: str, at: datetime, events: list[dict[str, Any]]) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    site = runtime.settings.sites[0]
    result = runtime.collector.collect(site, events, ip=ip, user_agent=ua, received_at=at)
    assert not result.rejected


def add_lead(client: TestClient, at: datetime, channel: str, touches: Touches | None = None,
             won: float | None = None) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.records.session() as session:
        session.add(Lead(
            site_id="default", created_at=at.replace(tzinfo=UTC), name="A", email="a@example.com",
            channel=channel, touches=touches.to_dict() if touches else None,
            status="won" if won else "new", won_value=won,
        ))


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    """Three visitors on 2026-11-10:
    A (desktop, Google organic): home, services, contact, form start, submit; LCP 2.0 s
    B (mobile, Facebook paid): home, services; LCP 3.0 s, INP 0.6 s
    C (mobile, direct): contact only; LCP 5.0 s
    and one lead from A (Organic Search) plus a rejected submission."""
    t = DAY + timedelta(hours=9)
    visit(client, "198.51.100.1", DESKTOP, t, [
        {"type": "pageview", "url": SITE + "/", "referrer": "https://www.google.com/"},
        {"type": "vital", "name": "LCP", "value": 2000, "url": SITE + "/"},
    ])
    visit(client, "198.51.100.1", DESKTOP, t + timedelta(minutes=1), [
        {"type": "pageview", "url": SITE + "/services/seo"},
        {"type": "pageview", "url": SITE + "/contact"},
        {"type": "form_start", "name": "contact", "url": SITE + "/contact"},
        {"type": "form_submit", "name": "contact", "url": SITE + "/contact"},
    ])
    visit(client, "198.51.100.2", MOBILE, t + timedelta(hours=1), [
        {"type": "pageview", "url": SITE + "/?utm_source=facebook&utm_medium=paid_social"},
        {"type": "vital", "name": "LCP", "value": 3000, "url": SITE + "/"},
        {"type": "pageview", "url": SITE + "/services/ppc"},
        {"type": "vital", "name": "INP", "value": 600, "url": SITE + "/services/ppc"},
    ])
    visit(client, "198.51.100.3", MOBILE, t + timedelta(hours=2), [
        {"type": "pageview", "url": SITE + "/contact"},
        {"type": "vital", "name": "LCP", "value": 5000, "url": SITE + "/contact"},
    ])
    client.app.state.runtime.event_buffer.flush()  # type: ignore[attr-defined]
    first = Touch(t - timedelta(days=7), "Email", campaign="nov")
    journey = Touches.start(first).add(Touch(t, "Organic Search", landing_path="/"))
    add_lead(client, t + timedelta(minutes=2), "Organic Search", journey, won=1000.0)
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.records.session() as session:
        session.add(Lead(site_id="default", created_at=t.replace(tzinfo=UTC), name="S",
                         email="s@example.com", rejected_reason="spam"))
    return client


def get(client: TestClient, what: str, **params: Any) -> dict[str, Any]:
    r = client.get(f"/api/v1/analytics/{what}", params={**RANGE, **params}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


def test_overview(loaded: TestClient) -> None:
    body = get(loaded, "overview", interval="1h")
    assert body["totals"] == {
        "pageviews": 6, "visitors": 3, "sessions": 3, "leads": 1,
        "conversion_rate": pytest.approx(1 / 3), "target": 0.03, "on_target": True,
    }
    nine = next(b for b in body["series"] if b["ts"].startswith("2026-11-10T09"))
    assert (nine["pageviews"], nine["visitors"], nine["leads"]) == (3, 1, 1)
    channels = {r["key"]: r for r in body["by_channel"]}
    assert channels["Organic Search"]["conversion_rate"] == 1.0
    assert channels["Paid Social"]["leads"] == 0
    landing = {r["key"]: r["visitors"] for r in body["by_landing_page"]}
    assert landing == {"/": 2, "/contact": 1}
    devices = {r["key"]: r for r in body["by_device"]}
    assert devices["desktop"]["leads"] == 1 and devices["mobile"]["visitors"] == 2


def test_filters(loaded: TestClient) -> None:
    body = get(loaded, "overview", device="mobile")
    assert body["totals"]["visitors"] == 2 and body["totals"]["pageviews"] == 3


def test_funnel(loaded: TestClient) -> None:
    steps = get(loaded, "funnel")["steps"]
    assert [(s["step"], s["sessions"]) for s in steps] == [
        ("/", 2), ("/services/*", 2), ("/contact*", 1), ("form start", 1), ("lead", 1)
    ]
    assert steps[2]["drop_off"] == 1 and steps[2]["drop_off_rate"] == 0.5
    assert steps[4]["conversion_from_start"] == 0.5


def test_channels(loaded: TestClient) -> None:
    rows = {r["channel"]: r for r in get(loaded, "channels")["channels"]}
    assert set(rows) == {"Organic Search", "Paid Social", "Direct"}
    assert rows["Organic Search"]["pageviews"] == 3 and rows["Organic Search"]["leads"] == 1


def test_attribution(loaded: TestClient) -> None:
    body = get(loaded, "attribution")
    assert body["leads"] == 1 and body["won_value"] == 1000
    rows = {r["key"]: r for r in body["rows"]}
    assert rows["Email"]["leads"]["first_touch"] == 1
    assert rows["Organic Search"]["leads"]["last_non_direct"] == 1
    assert rows["Email"]["leads"]["linear"] == 0.5
    assert rows["Email"]["value"]["position_based"] == 500
    # Seven days back, one half-life: weights 1/2 and 1 -> 1/3, 2/3.
    assert rows["Email"]["leads"]["time_decay"] == pytest.approx(1 / 3, abs=1e-3)
    short = get(loaded, "attribution", lookback_days=3)
    assert {r["key"] for r in short["rows"]} == {"Organic Search"}
    campaigns = {r["key"] for r in get(loaded, "attribution", by="campaign")["rows"]}
    assert campaigns == {"nov", "(none)"}


def test_vitals(loaded: TestClient) -> None:
    body = get(loaded, "vitals", by="all")
    lcp = next(r for r in body["rows"] if r["metric"] == "LCP")
    # p75 of 2, 3, 5 (linear interpolation) = 4.0: poor is above 4 s, so needs improvement.
    assert lcp["p75"] == pytest.approx(4.0) and lcp["rating"] == "needs-improvement"
    assert (lcp["good"], lcp["needs_improvement"], lcp["poor"]) == pytest.approx((1 / 3, 1 / 3, 1 / 3))
    assert lcp["compliance"] == pytest.approx(1 / 3)
    by_lcp = {r["rating"]: r for r in body["conversion_by_rating"]["LCP"]}
    assert by_lcp["good"]["conversion_rate"] == 1.0 and by_lcp["poor"]["conversion_rate"] == 0.0
    pages = {(r["key"], r["metric"]) for r in get(loaded, "vitals")["rows"]}
    assert ("/services/ppc", "INP") in pages


def test_errors_name_the_field(client: TestClient) -> None:
    assert client.get("/api/v1/analytics/overview", params={"site": "default"}).status_code == 401
    r = client.get("/api/v1/analytics/overview", params={"site": "nope"}, headers=ADMIN)
    assert r.status_code == 404 and "query.site" in r.json()["error"]["fields"]
    r = client.get("/api/v1/analytics/funnel", headers=ADMIN,
                   params={"site": "default", "from": "2026-11-02", "to": "2026-11-01"})
    assert r.status_code == 422 and "query.from" in r.json()["error"]["fields"]
    r = client.get("/api/v1/analytics/overview", headers=ADMIN,
                   params={"site": "default", "interval": "1h", "from": "2000-01-01"})
    assert r.status_code == 422 and "query.interval" in r.json()["error"]["fields"]


def test_one_pass_vitals_ratings_match_one_query_per_metric(loaded: TestClient) -> None:
    from leadwatch.marketing import analytics

    events = loaded.app.state.runtime.events  # type: ignore[attr-defined]
    s = analytics.Scope("default", DAY - timedelta(days=2), DAY + timedelta(days=1, hours=5))
    both = analytics.conversion_by_vital_ratings(events, s, ("LCP", "INP"))
    assert both == {m: analytics.conversion_by_vital_rating(events, s, m) for m in ("LCP", "INP")}
