"""One module per UI page: each gathers its panels from the capability that owns the
numbers (its query functions, or its admin API's own handler functions, called
directly so the page and the API cannot disagree) and returns them as plain data
for its template."""

from __future__ import annotations

from leadwatch.dashboards.timerange import TimeRange
from leadwatch.marketing.analytics import Scope


def scope(tr: TimeRange, site_id: str) -> Scope:
    """The marketing analytics scope of a page's site and range."""
    return Scope(site_id, tr.start, tr.end)


def interval(tr: TimeRange) -> str:
    """The analytics overview's interval for a range: hours up to a month, else days."""
    return "1h" if tr.seconds <= 31 * 86_400 else "1d"
