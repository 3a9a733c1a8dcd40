"""Revenue impact: an estimate of the leads, and the revenue they would have brought,
lost during incidents and conversion drops in a time range.

The model works in whole UTC hours covering the range (docs/dashboards.md states it
with its assumptions):

- an hour is *affected* by an incident (of the alerting package) when the incident
  was open during any part of it (opened to resolved, or to now while open), and is
  a *conversion drop* when it had at least ``alerting.conversion_min_hourly_page_views``
  page views and its conversion (leads / visitors) fell below the target band (under
  half of ``collect.conversion_target``, where the dashboards turn red);
- the baseline conversion rate is leads / visitors over the range's unaffected hours
  (the target when they had no visitors); the baseline lead rate of an hour is the
  mean of its leads in the same hour of the ``alerting.conversion_baseline_weeks``
  previous weeks (of an unfinished last hour, its elapsed share);
- expected leads of an affected hour = baseline conversion rate x its visitors, or the
  baseline lead rate when that is larger (the visitors were lost too: the site was
  down, or traffic fell); lost leads = expected - actual, never below zero;
- revenue lost = lost leads x lead-to-win rate x average deal value, both measured from
  the outcomes of the last ``marketing.outcome_window_days`` days when at least
  ``marketing.min_outcomes`` leads were won or lost, else from the site's settings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, or_, select

from leadwatch.alerting.models import Incident
from leadwatch.leads.models import Lead
from leadwatch.marketing import analytics
from leadwatch.store.schema import utc_naive, utcnow

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

HOUR = timedelta(hours=1)
WEEK = timedelta(weeks=1)


@dataclass(frozen=True)
class Hour:
    start: datetime  # naive UTC, on the hour
    pageviews: int
    visitors: int
    leads: int
    baseline_leads: float  # mean leads of the same hour in the previous weeks


@dataclass(frozen=True)
class Loss:
    hours: int
    expected: float
    actual: int
    lost: float

    def as_dict(self, value_per_lead: float | None) -> dict[str, Any]:
        return {"hours": self.hours, "expected_leads": self.expected, "actual_leads": self.actual,
                "lost_leads": self.lost,
                "lost_revenue": None if value_per_lead is None else self.lost * value_per_lead}


def floor_hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The starts of the whole hours overlapping [start, end)."""
    out, at = [], floor_hour(start)
    while at < end:
        out.append(at)
        at += HOUR
    return out


def baseline_rate(hours: Iterable[Hour], affected: set[datetime], fallback: float) -> tuple[float, str]:
    """Leads per visitor over the unaffected hours, or ``fallback`` (the target) without visitors."""
    normal = [h for h in hours if h.start not in affected]
    visitors = sum(h.visitors for h in normal)
    if not visitors:
        return fallback, "target"
    return sum(h.leads for h in normal) / visitors, "measured"


def expected(hour: Hour, rate: float) -> float:
    return max(rate * hour.visitors, hour.baseline_leads)


def loss(hours: Iterable[Hour], rate: float) -> Loss:
    chosen = list(hours)
    exp = [expected(h, rate) for h in chosen]
    return Loss(len(chosen), sum(exp), sum(h.leads for h in chosen),
                sum(max(e - h.leads, 0.0) for e, h in zip(exp, chosen, strict=True)))


def drop_hours(hours: Iterable[Hour], target: float, min_pageviews: int) -> set[datetime]:
    """Hours with enough traffic whose conversion fell below half the target."""
    return {h.start for h in hours
            if h.visitors and h.pageviews >= min_pageviews and h.leads / h.visitors < target / 2}


def measured_or_setting(measured: float | None, setting: float | None) -> dict[str, Any]:
    if measured is not None:
        return {"value": measured, "source": "measured"}
    return {"value": setting, "source": "setting" if setting is not None else None}


def outcome_rates(won: int, lost: int, valued: int, won_value: float, min_outcomes: int,
                  win_rate: float | None, deal_value: float | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The lead-to-win rate (won / (won + lost)) and average deal value (mean value of
    the won deals with a value), measured with at least ``min_outcomes`` outcomes,
    else the settings."""
    enough = won + lost >= min_outcomes
    rate = measured_or_setting(won / (won + lost) if enough else None, win_rate)
    value = measured_or_setting(won_value / valued if enough and valued else None, deal_value)
    return {**rate, "won": won, "lost": lost}, {**value, "won": valued}


# ---- gathering the inputs from the stores ----


def _hours(runtime: Runtime, site_id: str, start: datetime, end: datetime, weeks: int) -> list[Hour]:
    scope = analytics.Scope(site_id, floor_hour(start), end)
    series = {r["bucket"]: r for r in analytics.traffic_series(runtime.events, scope, 3600)}
    leads = Counter(floor_hour(utc_naive(at)) for at in _lead_times(runtime, site_id, scope.start - weeks * WEEK, end))
    out = []
    for at in hours_between(start, end):
        row = series.get(at, {})
        before = [leads[at - j * WEEK] for j in range(1, weeks + 1)]
        # An unfinished last hour (the range ends now) expects its elapsed share only.
        elapsed = min((end - at) / HOUR, 1.0)
        out.append(Hour(at, int(row.get("pageviews") or 0), int(row.get("visitors") or 0), leads[at],
                        sum(before) / weeks * elapsed))
    return out


def _lead_times(runtime: Runtime, site_id: str, start: datetime, end: datetime) -> list[datetime]:
    """When the accepted leads of [start, end) came (only the times: the baseline weeks
    would otherwise load every lead's journey)."""
    with runtime.records.session() as session:
        return list(session.scalars(select(Lead.created_at).where(
            Lead.site_id == site_id, Lead.created_at >= start.replace(tzinfo=UTC),
            Lead.created_at < end.replace(tzinfo=UTC), Lead.rejected_reason.is_(None))))


def _incidents(runtime: Runtime, site_id: str, start: datetime, end: datetime) -> list[Incident]:
    """Incidents open during [start, end) of this site (or of no site in particular)."""
    with runtime.records.session() as session:
        found = session.scalars(
            select(Incident).where(
                Incident.opened_at < end.replace(tzinfo=UTC),
                or_(Incident.resolved_at.is_(None), Incident.resolved_at > start.replace(tzinfo=UTC)),
            ).order_by(Incident.opened_at)
        ).all()
        session.expunge_all()
    return [i for i in found if i.group_labels.get("site", site_id) == site_id]


def _outcomes(runtime: Runtime, site_id: str, now: datetime) -> tuple[int, int, int, float]:
    """Won and lost leads of the outcome window, won deals with a value and their sum."""
    since = now.replace(tzinfo=UTC) - timedelta(days=runtime.settings.marketing.outcome_window_days)
    with runtime.records.session() as session:
        rows = session.execute(
            select(Lead.status, func.count(), func.count(Lead.won_value), func.sum(Lead.won_value)).where(
                Lead.site_id == site_id, Lead.created_at >= since, Lead.rejected_reason.is_(None),
                Lead.status.in_(("won", "lost")),
            ).group_by(Lead.status)
        ).all()
    by_status = {status: (int(n), int(valued), float(total or 0)) for status, n, valued, total in rows}
    won, valued, won_value = by_status.get("won", (0, 0, 0.0))
    return won, by_status.get("lost", (0, 0, 0.0))[0], valued, won_value


def impact(runtime: Runtime, site_id: str, start: datetime, end: datetime,
           now: datetime | None = None) -> dict[str, Any]:
    """The revenue impact of [start, end) (naive UTC) for a site: an estimate."""
    now = now or utcnow()
    settings = runtime.settings
    site = settings.marketing.site(site_id)
    weeks = settings.alerting.conversion_baseline_weeks
    target = settings.collect.conversion_target
    hours = _hours(runtime, site_id, start, end, weeks)
    starts = [h.start for h in hours]
    incidents = _incidents(runtime, site_id, start, end)
    windows = {i.id: set(hours_between(max(utc_naive(i.opened_at), starts[0]),
                                       min(utc_naive(i.resolved_at or now), end))) for i in incidents}
    during_incidents = set().union(*windows.values())
    drops = drop_hours(hours, target, settings.alerting.conversion_min_hourly_page_views) - during_incidents
    rate, rate_source = baseline_rate(hours, during_incidents | drops, target)
    won, lost, valued, won_value = _outcomes(runtime, site_id, now)
    win_rate, deal_value = outcome_rates(won, lost, valued, won_value, settings.marketing.min_outcomes,
                                         site.win_rate, site.average_deal_value)
    per_lead = (win_rate["value"] * deal_value["value"]
                if win_rate["value"] is not None and deal_value["value"] is not None else None)

    def of(chosen: set[datetime]) -> Loss:
        return loss((h for h in hours if h.start in chosen), rate)

    incident_loss, drop_loss = of(during_incidents), of(drops)
    return {
        "estimate": True,
        "currency": site.currency,
        "hours": len(hours),
        "baseline": {"conversion_rate": rate, "source": rate_source, "weeks": weeks},
        "win_rate": win_rate,
        "deal_value": deal_value,
        "value_per_lead": per_lead,
        "incidents": [
            {"id": i.id, "title": i.title, "severity": i.severity, "opened_at": i.opened_at,
             "resolved_at": i.resolved_at, **of(windows[i.id]).as_dict(per_lead)}
            for i in incidents
        ],
        "during_incidents": incident_loss.as_dict(per_lead),
        "during_drops": drop_loss.as_dict(per_lead),
        "total": of(during_incidents | drops).as_dict(per_lead),
    }
