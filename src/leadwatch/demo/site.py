"""The demo site under /demo/: server-rendered pages (Jinja2), its stylesheet and a
downloadable PDF, every page instrumented with ``<script defer src="/lw.js">``.

``with_demo_site(settings)`` adds the demo site to the configured sites (so /collect
and /api/leads accept it) with its own thank-you page; ``create_app`` calls it when
``demo.enabled`` is on and mounts ``router``.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from pathlib import Path

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from leadwatch.demo.content import CONTACT_CTA, MENU, PAGES, PREFIX, RESOURCE, SERVICES, Page
from leadwatch.leads.defence import issue_form_token
from leadwatch.runtime import Runtime
from leadwatch.security.clients import client_ip
from leadwatch.settings import (
    CollectSiteSettings,
    LeadSiteSettings,
    MarketingSiteSettings,
    Settings,
    SiteSettings,
    SpendBudget,
)
from leadwatch.store.models import now
from leadwatch.web.deps import get_runtime
from leadwatch.web.errors import ApiError

HERE = Path(__file__).parent
router = APIRouter(prefix=PREFIX, include_in_schema=False)
_env = Environment(
    loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
)
DEMO_SPEND = {"Paid Search": 6000.0, "Paid Social": 2400.0, "Display": 900.0}  # GBP, 60 days
PAGE_CACHE = "no-cache"  # the contact page carries a fresh form token each time


def with_demo_site(settings: Settings) -> Settings:
    """The settings with the demo site (``demo.site_id``) configured: a site without a
    domain (its pages are served by leadwatch itself) whose form posts land on
    /demo/thanks, scored with the agency's target industries and countries, with a
    funnel over the demo's pages, a deal value and paid-channel budgets."""
    site_id = settings.demo.site_id
    # First in the list, so the dashboards open on the site that has the demo's data.
    demo = next((s for s in settings.sites if s.id == site_id), None) or SiteSettings(
        id=site_id, name="Reboot Media (demo)", timezone="Europe/London"
    )
    sites = [demo, *(s for s in settings.sites if s.id != site_id)]
    lead_sites = dict(settings.leads.sites)
    lead_sites.setdefault(site_id, LeadSiteSettings(
        thank_you_url=f"{PREFIX}/thanks",
        target_industries=["software", "professional services", "ecommerce"],
        target_countries=["GB", "IE"],
    ))
    leads = settings.leads.model_copy(update={"sites": lead_sites})
    # The funnel's steps are the demo's own pages, which live under PREFIX.
    collect_sites = dict(settings.collect.sites)
    collect_sites.setdefault(site_id, CollectSiteSettings(
        funnel_pages=[f"{PREFIX}/", f"{PREFIX}/services/*", f"{PREFIX}/contact*"]))
    collect = settings.collect.model_copy(update={"sites": collect_sites})
    # An agency's numbers, so the revenue-impact and channel-ROI panels have something
    # to show: a deal value and win rate, and paid budgets over the simulated weeks.
    today = now().date()
    marketing_sites = dict(settings.marketing.sites)
    marketing_sites.setdefault(site_id, MarketingSiteSettings(
        currency="GBP", average_deal_value=4500, win_rate=0.2,
        spend=[SpendBudget(channel=channel, start=today - timedelta(days=59), end=today, amount=amount)
               for channel, amount in DEMO_SPEND.items()],
    ))
    marketing = settings.marketing.model_copy(update={"sites": marketing_sites})
    return settings.model_copy(update={"sites": sites, "leads": leads, "collect": collect,
                                       "marketing": marketing})


def _canonical(request: Request, runtime: Runtime, page: Page) -> str:
    base = runtime.settings.server.public_url or str(request.base_url)
    return base.rstrip("/") + PREFIX + page.path


def _render(request: Request, runtime: Runtime, page: Page, **extra: object) -> HTMLResponse:
    html = _env.get_template(page.template).render(
        page=page, prefix=PREFIX, menu=MENU, services=SERVICES, resource=RESOURCE,
        site_id=runtime.settings.demo.site_id, canonical=_canonical(request, runtime, page),
        **extra,
    )
    return HTMLResponse(html, headers={"Cache-Control": PAGE_CACHE})


@router.get("", response_class=RedirectResponse)
async def demo_root() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/", status_code=308)


@router.get("/contact", response_class=HTMLResponse)
async def contact(request: Request, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    site_id = runtime.settings.demo.site_id
    ip = client_ip(request.scope, runtime.guard.trusted_proxies)
    variant = CONTACT_CTA.assign(ip, request.headers.get("user-agent", ""))
    return _render(
        request, runtime, PAGES["/contact"],
        form_token=issue_form_token(runtime.secret_key, site_id, now()),
        honeypot=runtime.settings.leads.honeypot_field,
        experiment=CONTACT_CTA.name, variant=variant, button=CONTACT_CTA.button(variant),
    )


@router.get(f"/resources/{RESOURCE}")
async def resource() -> Response:
    return Response(
        checklist_pdf(), media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{RESOURCE}"',
                 "Cache-Control": "public, max-age=86400"},
    )


@router.get("/static/site.css")
async def stylesheet() -> Response:
    return Response((HERE / "static" / "site.css").read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/static/experiment.js")
async def experiment_script() -> Response:
    return Response((HERE / "static" / "experiment.js").read_bytes(), media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600"})


@router.get("/{path:path}", response_class=HTMLResponse)
async def page(path: str, request: Request, runtime: Runtime = Depends(get_runtime)) -> HTMLResponse:
    found = PAGES.get("/" + path.rstrip("/") if path else "/")
    if found is None or found.kind == "contact":
        raise ApiError(404, f"no demo page {PREFIX}/{path}")
    return _render(request, runtime, found)


CHECKLIST = (
    "Reboot Media - Technical SEO checklist",
    "",
    "1. Every page answers 200 and has one canonical URL.",
    "2. robots.txt allows what should be indexed; the XML sitemap lists only canonicals.",
    "3. One h1 per page; titles under 60 characters; unique meta descriptions.",
    "4. Largest Contentful Paint under 2.5 s at the 75th percentile, on mobile.",
    "5. Interaction to Next Paint under 200 ms; Cumulative Layout Shift under 0.1.",
    "6. Structured data (Organization, Service, FAQ) valid in the Rich Results Test.",
    "7. Internal links point at canonical URLs, never through redirects.",
    "8. Contact forms work without JavaScript and are tracked to the lead.",
    "",
    "Questions? hello@rebootmedia.example - 0161 496 0718",
)


@cache
def checklist_pdf() -> bytes:
    """A one-page PDF (PDF 1.4, Helvetica) of the checklist, built without a library."""
    lines = ["BT", "/F1 11 Tf", "14 TL", "56 780 Td"]
    for i, text in enumerate(CHECKLIST):
        escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        lines.append(f"({escaped}) Tj T*" if i else f"/F1 16 Tf ({escaped}) Tj T* /F1 11 Tf")
    lines.append("ET")
    stream = "\n".join(lines).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)
