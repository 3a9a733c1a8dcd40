"""The demo site in-process: every page renders with its meta tags, one h1 and the
snippet; the contact form carries what the lead intake expects; /demo/ is absent
without demo.enabled."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.demo.content import PAGES, RESOURCE
from leadwatch.settings import Settings

SITE = "reboot-media-demo"


@pytest.fixture
def demo(settings_for: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = settings_for(demo={"enabled": True, "visitors_per_day": 0, "backfill_days": 0})
    with TestClient(create_app(settings)) as client:
        yield client


def _meta(html: str, attr: str, name: str) -> str | None:
    found = re.search(rf'<meta {attr}="{re.escape(name)}" content="([^"]*)"', html)
    return found.group(1) if found else None


@pytest.mark.parametrize("path", [p for p in PAGES if p != "/thanks"])
def test_pages_have_full_meta_tags_and_the_snippet(demo: TestClient, path: str) -> None:
    response = demo.get("/demo" + path)
    assert response.status_code == 200
    html = response.text
    assert html.count("<h1") == 1
    assert re.search(r"<title>[^<]{10,}</title>", html)
    assert len(_meta(html, "name", "description") or "") > 50
    assert _meta(html, "name", "robots") == "index, follow"
    assert f'<link rel="canonical" href="http://testserver/demo{path}">' in html
    for prop in ("og:title", "og:description", "og:url", "og:type"):
        assert _meta(html, "property", prop), prop
    assert f'<script defer src="/lw.js" data-site="{SITE}"></script>' in html
    assert not re.search(r'(src|href)="https?://(?!testserver)[^"]*"[^>]*(rel="stylesheet"|defer)', html)


def test_contact_form_posts_to_the_lead_intake(demo: TestClient) -> None:
    html = demo.get("/demo/contact").text
    form = html[html.index("<form"):html.index("</form>")]
    assert 'action="/api/leads"' in form and 'method="post"' in form
    for field in ("name", "email", "site_id", "form_token", "attribution_token", "website"):
        assert f'name="{field}"' in form, field
    token = re.search(r'name="form_token" value="(f1\.[^"]+)"', form)
    assert token
    # Posted as a browser would, the form ends on the demo thank-you page as a real lead.
    fields = {"site_id": SITE, "form_token": token.group(1), "name": "Ann Example",
              "email": "ann@example.com", "website": "", "attribution_token": ""}
    response = demo.post("/api/leads", data=fields, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/demo/thanks"
    assert "Thank you" in demo.get("/demo/thanks").text


def test_resource_is_a_pdf_download(demo: TestClient) -> None:
    response = demo.get(f"/demo/resources/{RESOURCE}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith(b"%PDF-1.4") and response.content.rstrip().endswith(b"%%EOF")


def test_unknown_pages_404_and_demo_is_off_by_default(
    demo: TestClient, settings_for: Callable[..., Settings]
) -> None:
    assert demo.get("/demo/nope").status_code == 404
    with TestClient(create_app(settings_for())) as plain:
        assert plain.get("/demo/").status_code == 404


def test_in_demo_mode_the_demo_site_comes_first(settings_for: Callable[..., Settings]) -> None:
    """The dashboards open on the first site: with --demo, the one that has data."""
    from leadwatch.demo.site import with_demo_site

    settings = with_demo_site(settings_for("embedded", sites=[{"id": "default", "name": "Default"}]))
    assert [s.id for s in settings.sites] == [settings.demo.site_id, "default"]
    again = with_demo_site(settings)
    assert [s.id for s in again.sites] == [settings.demo.site_id, "default"]
