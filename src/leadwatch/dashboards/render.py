"""Jinja2 templates and the page frame every dashboard shares: navigation, the
site, time-range and auto-refresh controls, and HTML error pages (still 4xx)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from leadwatch import __version__
from leadwatch.dashboards import charts
from leadwatch.dashboards.panels import count, seconds
from leadwatch.dashboards.status import LABELS
from leadwatch.dashboards.timerange import PRESET_LABELS, TimeRange
from leadwatch.security.sessions import CurrentUser
from leadwatch.settings import SiteSettings

HERE = Path(__file__).resolve().parent
templates = Jinja2Templates(directory=HERE / "templates")
templates.env.globals.update(version=__version__, status_labels=LABELS, preset_labels=PRESET_LABELS)
templates.env.filters["chart"] = charts.as_json
templates.env.tests["empty_chart"] = charts.is_empty
templates.env.filters["parse_query"] = parse_qsl
templates.env.globals["seconds"] = seconds
# Lead counts can be fractional credit; whole numbers show without ".0".
templates.env.globals["count"] = count

def facet_term(value: str) -> str:
    """A facet value as a term of the log search syntax (quoted unless plain)."""
    if value and all(c.isalnum() or c in "./_-" for c in value):
        return value
    return '"' + value.replace('"', "") + '"'


templates.env.filters["facet_term"] = facet_term

REFRESH_CHOICES = (0, 10, 30, 60, 300)


@dataclass(frozen=True)
class NavItem:
    path: str
    title: str
    admin_only: bool = False  # listed for users of the admin role only

    def shown_to(self, user: CurrentUser | None) -> bool:
        return not self.admin_only or (user is not None and user.role == "admin")


# The pages in the navigation, in order; a page is listed once its data exists.
NAV: list[NavItem] = [
    NavItem("/ui/executive", "Executive"),
    NavItem("/ui/ops", "Operations"),
    NavItem("/ui/marketing", "Marketing"),
    NavItem("/ui/leads", "Leads"),
    NavItem("/ui/security", "Security"),
    NavItem("/ui/logs", "Logs"),
    NavItem("/ui/alerts", "Alerts"),
    NavItem("/ui/privacy", "Privacy", admin_only=True),
]


@dataclass(frozen=True)
class Frame:
    """What every page needs besides its own panels."""

    request: Request
    site: SiteSettings
    sites: list[SiteSettings]
    range: TimeRange
    refresh: int
    user: CurrentUser | None = None
    extra: dict[str, str] = field(default_factory=dict)
    live: bool = False  # the page follows new data as it comes: no range, no refresh
    controls: bool = True  # False: a page of no site or period (no site, range or refresh)

    @property
    def admin(self) -> bool:
        """May act (verdicts, bans, silences, incidents, follow-ups, erasure): a viewer reads only."""
        return self.user is not None and self.user.role == "admin"

    def with_extra(self, **extra: str) -> Frame:
        """This frame keeping the page's own parameters (empty ones left out)."""
        return replace(self, extra={**self.extra, **{k: v for k, v in extra.items() if v}})

    def with_site(self, site_id: str) -> Frame:
        return replace(self, site=next(s for s in self.sites if s.id == site_id))

    def nav_query(self) -> str:
        """Site, range and refresh only: what carries over to another page."""
        return urlencode({"site": self.site.id, **self.range.query(), "refresh": str(self.refresh)})

    def query(self, **changes: str) -> str:
        """This page's query string with ``changes`` applied (for links and forms)."""
        params = {"site": self.site.id, **self.range.query(), "refresh": str(self.refresh),
                  **self.extra, **changes}
        return urlencode({k: v for k, v in params.items() if v != ""})


def page(frame: Frame, template: str, title: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        frame.request,
        template,
        {"frame": frame, "title": title, "nav": NAV, "refresh_choices": REFRESH_CHOICES, **context},
        status_code=status_code,
    )


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    return templates.TemplateResponse(
        request, "error.html", {"title": "Error", "status": status_code, "message": message},
        status_code=status_code,
    )
