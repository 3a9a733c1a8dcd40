"""A real browser on the demo site: Debian's Chromium (driven by Playwright) loads
demo pages of a real ``leadwatch serve --demo`` process, scrolls, clicks, types and
submits the contact form. The page views and the Web Vitals the browser measured must
be in the event store, and the lead must carry its attribution (touches)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from leadwatch.leads.models import Lead
from leadwatch.settings import load_settings
from leadwatch.store.events import open_event_store
from leadwatch.store.records import RecordStore
from tests.servers import LeadwatchProcess, missing

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--disable-sync"]
# Headless Chromium says "HeadlessChrome", which the collector drops as a bot: the
# test browses as the desktop Chrome it is.
USER_AGENT = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/124.0.0.0 Safari/537.36")
SITE = "reboot-media-demo"
EMAIL = "browser.test@northwind-analytics.example"
LANDING = "/demo/landing/seo-audit?utm_source=newsletter&utm_medium=email&utm_campaign=browser-test"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LeadwatchProcess]:
    if not CHROMIUM.exists():
        missing("Chromium not installed (apt-get install chromium)")
    if not (Path(__file__).parents[2] / "src/leadwatch/collect/static/lw.js").exists():
        missing("/lw.js is not built (make frontend)")
    env = {
        "LEADWATCH_DATA_DIR": str(tmp_path / "data"),
        "LEADWATCH_DEMO__ENABLED": "true",
        # No simulated visitors: every demo event in the store is the browser's.
        "LEADWATCH_DEMO__VISITORS_PER_DAY": "0",
        "LEADWATCH_DEMO__ATTACKS_PER_DAY": "0",  # nor attackers (their posts are leads, refused)
        # Nor the synthetic journeys that --demo points at the demo site.
        "LEADWATCH_SYNTHETIC__DEFAULT_JOURNEYS": "false",
        "LEADWATCH_LEADS__MIN_SUBMIT_SECONDS": "1",
        "LEADWATCH_STORAGE__FLUSH_INTERVAL_SECONDS": "0.2",
        "LEADWATCH_LOGGING__LEVEL": "warning",
    }
    process = LeadwatchProcess(env, tmp_path / "leadwatch.log").start()
    yield process
    process.stop()


# The visitor switches tabs: web-vitals reports CLS and INP (and a final LCP) when the
# page is hidden, which a headless browser navigating away does not signal by itself.
HIDE = """() => {
  Object.defineProperty(document, "visibilityState", {value: "hidden", configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
  Object.defineProperty(document, "visibilityState", {value: "visible", configurable: true});
}"""


def _sent(bodies: list[str]) -> list[dict[str, Any]]:
    events = []
    for body in bodies:
        try:
            events += json.loads(body)
        except ValueError:
            pass
    return events


def test_a_real_browser_on_the_demo_site(server: LeadwatchProcess, tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    bodies: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            page = browser.new_context(user_agent=USER_AGENT, viewport={"width": 1280, "height": 720}).new_page()
            page.set_default_timeout(30_000)
            page.on("request", lambda r: "/collect" in r.url and r.post_data and bodies.append(r.post_data))
            # Land from a newsletter, read, scroll and click through to a service page.
            with page.expect_response(lambda r: "/collect" in r.url and r.status == 202):
                page.goto(server.url + LANDING)
            assert page.locator("h1").count() == 1
            page.mouse.wheel(0, 600)
            page.locator("h1").click()  # an interaction (not a link): INP and FID
            page.evaluate(HIDE)
            page.get_by_role("link", name="SEO", exact=True).click()
            page.wait_for_url("**/demo/services/seo")
            page.mouse.wheel(0, 800)
            page.locator("h1").click()
            page.evaluate(HIDE)
            page.get_by_role("link", name="Talk to a strategist").click()
            page.wait_for_url("**/demo/contact")
            # /lw.js writes the signed attribution token into the form.
            page.wait_for_function(
                "document.querySelector('input[name=attribution_token]').value.length > 20"
            )
            # The page's A/B test (queued before /lw.js loaded) put the variant in the form;
            # reporting it again in the same page view sends nothing more.
            variant = page.locator("input[name='exp_contact-cta']").input_value()
            page.evaluate("lw('experiment', 'contact-cta', document.querySelector(\"input[name='exp_contact-cta']\").value)")
            page.locator("input[name=name]").type("Priya Patel", delay=20)
            page.locator("input[name=email]").type(EMAIL, delay=10)
            page.fill("input[name=phone]", "+44 161 496 0123")
            page.fill("input[name=company]", "Northwind Analytics")
            page.select_option("select[name=company_size]", "51-200")
            page.fill("textarea[name=message]", "We would like a technical SEO audit.")
            page.check("input[name=consent_processing]")
            page.evaluate(HIDE)
            page.wait_for_timeout(1500)  # leads.min_submit_seconds is 1 here
            page.locator("form#contact button[type=submit]").click()
            page.wait_for_url("**/demo/thanks")
            assert "Thank you" in page.locator("h1").inner_text()
            page.wait_for_timeout(1000)
            page.close(run_before_unload=True)
        finally:
            browser.close()
    server.stop()  # a graceful stop flushes the write buffer

    settings = load_settings(None, storage={"data_dir": tmp_path / "data"})
    events = open_event_store(settings)
    records = RecordStore.open(settings)
    try:
        rows = events.query(
            "SELECT type, name, path, value, channel FROM events WHERE site_id = :site", {"site": SITE}
        )
        with records.session() as session:
            lead = session.scalars(select(Lead).where(Lead.email == EMAIL)).one()
            lead_row = (lead.site_id, lead.rejected_reason, lead.channel, lead.touches, lead.page_url)
            assigned = lead.experiments
    finally:
        events.close()
        records.close()

    pages = {r["path"] for r in rows if r["type"] == "pageview"}
    assert {"/demo/landing/seo-audit", "/demo/services/seo", "/demo/contact", "/demo/thanks"} <= pages
    assert {r["channel"] for r in rows if r["type"] == "pageview"} == {"Email"}, [(r["path"], r["channel"]) for r in rows if r["type"] == "pageview"]
    vitals: dict[str, list[float]] = {}
    for r in rows:
        if r["type"] == "vital":
            vitals.setdefault(r["name"], []).append(r["value"])
    for name in ("LCP", "CLS", "TTFB"):
        assert vitals.get(name), f"no {name} in the store: {sorted(vitals)}"
    assert vitals.get("INP") or vitals.get("FID"), f"no INP or FID in the store: {sorted(vitals)}"
    assert all(v > 0 for v in vitals["LCP"] + vitals["TTFB"]) and all(v >= 0 for v in vitals["CLS"])
    # The values stored are the ones the browser measured (sent in ms, stored in s).
    for event in _sent(bodies):
        if event.get("type") == "vital":
            stored = vitals.get(event["name"], [])
            expected = event["value"] if event["name"] == "CLS" else event["value"] / 1000
            assert any(abs(v - expected) < 1e-9 for v in stored), (event, stored)
    assert any(r["type"] == "form_submit" for r in rows)
    exposures = [r for r in rows if r["type"] == "experiment"]
    assert [(r["name"], r["path"]) for r in exposures] == [("contact-cta", "/demo/contact")]
    sent = [e for e in _sent(bodies) if e.get("type") == "experiment"]
    assert sent == [{"type": "experiment", "name": "contact-cta", "props": {"variant": variant},
                     "url": sent[0]["url"]}]
    assert assigned == {"contact-cta": variant} and variant in ("control", "book-call")
    # The queued exposure went out with the page view, after it (it starts the session).
    (batch,) = [b for b in map(_sent, ([body] for body in bodies)) if any(e.get("type") == "experiment" for e in b)]
    assert [e["type"] for e in batch[:2]] == ["pageview", "experiment"]

    site_id, rejected, channel, touches, _ = lead_row
    assert (site_id, rejected, channel) == (SITE, None, "Email")
    assert touches is not None
    assert touches["first"]["campaign"] == "browser-test"
    assert touches["first"]["landing_path"] == "/demo/landing/seo-audit"
    assert os.path.basename(touches["latest"]["landing_path"]) == "seo-audit"
