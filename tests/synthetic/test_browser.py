"""Browser journeys in the real Chromium: forms, meta tags, Web Vitals, artefacts."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadwatch.synthetic.browser import BrowserPool
from leadwatch.synthetic.journey import parse_journeys
from leadwatch.synthetic.marker import sign_marker, verify_marker
from leadwatch.synthetic.results import RunResult
from leadwatch.synthetic.runner import run_journey
from tests.servers import missing
from tests.synthetic.sites import serve_site

CHROMIUM = Path("/usr/bin/chromium")
KEY = b"k" * 32

CONTACT = {
    "name": "contact",
    "timeout": "60s",
    "steps": [
        {"name": "home", "browser": [{"goto": "${site_url}/"}, {"expect_meta": {}},
                                     {"vitals": {"budget": {"LCP": 30, "CLS": 0.1}}}]},
        {"name": "form", "browser": [
            {"click": "a[href='/contact']"},
            {"wait_for_selector": "form"},
            {"fill": {"[name=name]": "Synthetic", "[name=email]": "s@example.test"}},
            {"submit": "[name=email]"},
            {"wait_for_text": "Thank you"},
        ]},
    ],
}


@pytest.fixture
def pool(tmp_path: Path) -> BrowserPool:
    if not CHROMIUM.exists():
        missing("Chromium not installed (apt-get install chromium)")
    return BrowserPool(1, CHROMIUM, tmp_path / "artifacts")


def run(pool: BrowserPool, base: str, spec: dict) -> RunResult:  # type: ignore[type-arg]
    (journey,) = parse_journeys(spec, "test")
    return run_journey(journey, location="us-east", variables={"site_url": base}, browsers=pool,
                       marker=lambda run_id: (run_id, sign_marker(KEY, run_id)))


def test_a_browser_journey_submits_the_form_marked_synthetic_and_measures_vitals(pool: BrowserPool) -> None:
    with serve_site() as (base, site):
        result = run(pool, base, CONTACT)
    assert result.success, result.error
    vitals = result.vitals
    assert {"LCP", "FCP", "TTFB", "CLS", "INP", "FID"} <= set(vitals), vitals
    assert all(v >= 0 for v in vitals.values()) and vitals["LCP"] >= vitals["FCP"] > 0
    assert result.artifacts is None  # kept only for failures
    (submission,) = site.submissions
    assert submission["fields"] == {"name": "Synthetic", "email": "s@example.test"}
    assert verify_marker(KEY, str(submission["marker"])) == result.run_id


def test_a_failing_browser_journey_keeps_a_screenshot_and_trace(pool: BrowserPool) -> None:
    with serve_site() as (base, site):
        site.mode = "missing_meta"
        result = run(pool, base, CONTACT)
    assert not result.success
    assert result.error == "home: action 2 (expect_meta): meta description missing"
    assert result.artifacts is not None
    kept = Path(result.artifacts)
    assert (kept / "screenshot.png").stat().st_size > 0 and (kept / "trace.zip").stat().st_size > 0


def test_a_vitals_budget_breach_fails_the_step(pool: BrowserPool) -> None:
    spec = {"name": "cwv", "steps": [{"name": "v", "browser": [
        {"goto": "${site_url}/"}, {"vitals": {"budget": {"FCP": 0.000001}, "interact": None}}]}]}
    with serve_site() as (base, _):
        result = run(pool, base, spec)
    assert not result.success and "over budget: FCP" in (result.error or "")
    assert "INP" not in result.vitals  # no interaction scripted, none measured


def test_a_page_that_is_down_fails_the_goto(pool: BrowserPool) -> None:
    with serve_site() as (base, site):
        site.mode = "error"
        result = run(pool, base, CONTACT)
    assert not result.success and "status 500" in (result.error or "")
