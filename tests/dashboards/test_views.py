"""The /ui/ pages over HTTP: the frame, the operations page, errors as HTML, assets."""

from __future__ import annotations

import html as htmllib
import json
import re

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.settings import Settings
from tests.conftest import ADMIN
from tests.dashboards.conftest import as_tester


def charts(html: str) -> dict[str, dict]:  # type: ignore[type-arg]
    """The ECharts options of a page, by element id."""
    found = re.findall(r'<div class="chart" id="([\w-]+)"[^>]*data-chart="([^"]*)"', html)
    return {i: json.loads(htmllib.unescape(o)) for i, o in found}


def test_ui_without_login_redirects_to_the_login_page(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        for path in ("/ui/", "/ui/ops?range=7d"):
            response = client.get(path, follow_redirects=False)
            assert response.status_code == 303
            assert response.headers["location"].startswith("/ui/login?next=")
        assert "%2Fui%2Fops%3Frange%3D7d" in client.get(
            "/ui/ops?range=7d", follow_redirects=False).headers["location"]


def test_home_opens_the_executive_page_keeping_the_query(ui: TestClient) -> None:
    response = ui.get("/ui/?range=7d", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/ui/executive?range=7d"


def test_operations_page_shows_health_red_metrics_and_host(ui: TestClient) -> None:
    for _ in range(5):
        assert ui.get("/health").status_code == 200
    ui.get("/nowhere")  # a 404 counts as a client error of <unmatched>
    ui.post("/api/v1/events", json=[{"site_id": "default", "type": "pageview"}], headers=ADMIN)
    response = ui.get("/ui/ops?range=1h")
    assert response.status_code == 200
    html = response.text
    assert "<title>Technical operations · leadwatch</title>" in html
    for check in ("records store", "events store", "write buffer"):
        assert f"<td>{check}</td>" in html
    assert html.count(">UP<") == 3
    for tile in ("Request rate", "Error rate (5xx)", "Latency p95", "CPU", "Memory", "Disk",
                 "Write buffer", "Ingest lag"):
        assert f'<span class="label">{tile}</span>' in html
    assert "<code>/health</code>" in html and "<code>&lt;unmatched&gt;</code>" in html
    options = charts(html)
    assert {"requests", "latency", "host", "network", "buffer"} <= set(options)
    assert [s["name"] for s in options["latency"]["series"]] == ["p50", "p90", "p95", "p99"]


def test_stored_events_chart_appears_once_events_are_stored(ui: TestClient) -> None:
    assert "stored" not in charts(ui.get("/ui/ops?range=1h").text)
    ui.post("/api/v1/events", json=[{"site_id": "default", "type": "pageview"}] * 3, headers=ADMIN)
    ui.app.state.runtime.event_buffer.flush()  # type: ignore[attr-defined]
    stored = charts(ui.get("/ui/ops?range=1h").text)["stored"]
    assert sum(v for _, v in stored["series"][0]["data"]) == 3


def test_a_chart_with_nothing_to_draw_says_so_instead_of_bare_axes(ui: TestClient) -> None:
    html = ui.get("/ui/security?range=1h").text  # a fresh install: no security events
    for chart in ("threats", "ips", "countries"):
        assert f'<p class="chart empty" id="{chart}">Nothing in this range.</p>' in html
    assert charts(html) == {}


def test_status_colours_follow_the_thresholds(settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for(dashboards={"thresholds": {
        "cpu_percent": {"warn": -2, "critical": -1},  # any CPU reading is critical
        "memory_percent": {"warn": 101, "critical": 102},  # any reading is within target
    }})
    with TestClient(as_tester(create_app(settings))) as client:
        html = client.get("/ui/ops").text
    assert re.search(r'class="tile status-critical">\s*<span class="label">CPU<', html)
    assert re.search(r'class="tile status-ok">\s*<span class="label">Memory<', html)


@pytest.mark.parametrize(("query", "status", "text"), [
    ("range=2w", 422, "range: must be one of"),
    ("range=custom&from=2026-01-02T00:00&to=2026-01-01T00:00", 422, "from: must be before to"),
    ("from=yesterday&range=custom", 422, "from:"),
    ("refresh=7", 422, "refresh: must be one of"),
    ("site=nope", 404, "there is no site"),
])
def test_bad_parameters_get_an_html_error_page(ui: TestClient, query: str, status: int, text: str) -> None:
    response = ui.get(f"/ui/ops?{query}")
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    assert text in response.text


def test_unknown_ui_pages_are_html_404s(ui: TestClient) -> None:
    response = ui.get("/ui/nothing-here")
    assert response.status_code == 404 and "there is no page /ui/nothing-here" in response.text


def test_custom_range_and_refresh_are_kept_in_links_and_the_refresh_trigger(ui: TestClient) -> None:
    html = ui.get("/ui/ops?range=custom&from=2026-01-01T00:00&to=2026-01-02T00:00&refresh=60").text
    assert "2026-01-01 00:00 – 2026-01-02 00:00 UTC" in html
    assert 'hx-trigger="every 60s"' in html
    assert "range=custom&amp;from=2026-01-01T00%3A00&amp;to=2026-01-02T00%3A00&amp;refresh=60" in html
    assert "hx-trigger" not in ui.get("/ui/ops?refresh=0").text


def test_assets_are_served_and_nothing_else(ui: TestClient) -> None:
    css = ui.get("/ui/static/ui.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert ui.get("/ui/static/..%2Fviews.py").status_code in (403, 404)  # 403: the security guard
    assert ui.get("/ui/static/views.py").status_code == 404
