"""The contact-form journey end to end, as a remote probe runs it: a real Chromium
submits a form to a real `leadwatch serve` (POST /api/leads) with the marker the server
signed; the lead is synthetic, never in the lead numbers, and deleted once the result
is pushed. Web Vitals of the form page are measured on the way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from leadwatch.synthetic.browser import BrowserPool
from leadwatch.synthetic.probe import RemoteProbe
from leadwatch.synthetic.runner import run_journey
from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.servers import LeadwatchProcess, missing
from tests.synthetic.sites import serve_site, wait_until

CHROMIUM = Path("/usr/bin/chromium")
JOURNEY = """
name: contact-e2e
timeout: 90s
variables: {{site_url: "{site}"}}
steps:
  - name: contact-page
    browser:
      - goto: ${{site_url}}/contact
      - vitals: {{budget: {{LCP: 30, CLS: 0.25}}}}
  - name: submit
    browser:
      - fill: {{"[name=name]": Synthetic Monitor, "[name=email]": synthetic-monitor@example.com, "[name=message]": synthetic}}
      - submit: "[name=email]"
      - wait_for_text: we have your message
"""


@pytest.fixture
def site() -> Iterator[tuple[str, object]]:
    with serve_site() as served:
        yield served


def test_the_contact_form_journey_leaves_no_lead_behind(tmp_path: Path, site: tuple[str, object]) -> None:
    if not CHROMIUM.exists():
        missing("Chromium not installed (apt-get install chromium)")
    base, page = site
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "contact.yaml").write_text(JOURNEY.format(site=base))
    server = LeadwatchProcess({
        "LEADWATCH_DATA_DIR": str(tmp_path / "data"), "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN,
        "LEADWATCH_LOGGING__LEVEL": "warning", "LEADWATCH_SYNTHETIC__ENABLED": "false",
        "LEADWATCH_SYNTHETIC__DEFAULT_JOURNEYS": "false",
        "LEADWATCH_SYNTHETIC__JOURNEYS_DIR": str(journeys),
    }, tmp_path / "server.log").start()
    try:
        page.form_action = f"{server.url}/api/leads"  # type: ignore[attr-defined]
        probe = RemoteProbe(server.url, ADMIN_TOKEN, "europe", browsers=BrowserPool(1, CHROMIUM, tmp_path / "artefacts"))
        (journey,) = probe.fetch()
        marker = probe._marker
        result = run_journey(journey, location="europe", variables=probe.variables,
                             browsers=probe.browsers, marker=lambda _run_id: marker)
        assert result.success, result.error
        assert {"LCP", "FCP", "TTFB", "CLS", "INP"} <= set(result.vitals)

        def leads(rejected: bool) -> list[dict[str, object]]:
            response = httpx.get(f"{server.url}/api/v1/leads", headers=ADMIN, timeout=10,
                                 params={"rejected": rejected})
            return list(response.json()["leads"])

        assert leads(rejected=False) == []  # never a lead in the numbers
        (kept,) = leads(rejected=True)
        assert kept["rejected_reason"] == "synthetic"
        assert "leadwatch_leads_submitted_total{" not in httpx.get(f"{server.url}/metrics", timeout=10).text

        probe.push(result)
        assert leads(rejected=True) == []  # deleted once the run is recorded
        runs = wait_until(lambda: httpx.get(f"{server.url}/api/v1/synthetic/runs", headers=ADMIN,
                                            timeout=10).json()["runs"], what="the pushed run stored")
        assert [r["location"] for r in runs] == ["europe"] and runs[0]["vitals"]["LCP"] > 0
    finally:
        server.stop()
