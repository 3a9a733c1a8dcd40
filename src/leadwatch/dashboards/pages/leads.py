"""The Leads page: the inbox (tier first, then the follow-up due time), tier counts and
won value, what the checks held back (to restore what a person judges genuine), one
lead with its score breakdown and journey, follow-up and outcome actions. Reads and
writes go through the leads package (its filter, queries and admin API handlers)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import case, func, select

from leadwatch.dashboards.timerange import TimeRange
from leadwatch.leads import api as leads_api
from leadwatch.leads.models import STATUSES, Lead
from leadwatch.leads.queries import LeadFilter, find_leads, scoring_report
from leadwatch.marketing.touch import Touches
from leadwatch.runtime import Runtime
from leadwatch.settings import TIERS
from leadwatch.store.schema import utc_aware

INBOX_LIMIT = 200


@dataclass(frozen=True)
class Inbox:
    total: int
    leads: list[Lead]
    tiers: list[dict[str, Any]]
    won_value: float
    where: LeadFilter
    held: int  # submissions of the range the checks held back (the other view)


# Why a submission was held back (every one of leads.intake.REJECT_REASONS), in words.
HELD_BACK = {
    "blocked_sqli": "refused as SQL injection",
    "spam_honeypot": "spam: the hidden field was filled in",
    "spam_too_fast": "spam: sent too soon after the form was shown",
    "spam_bad_token": "spam: the form token was invalid or expired",
    "spam_no_token": "spam: no form token",
    "rate_limited": "over the submission limit",
    "duplicate": "a duplicate of an earlier lead",
    "synthetic": "a synthetic journey's test",
}


@dataclass(frozen=True)
class Held:
    """Submissions held back in the range, newest first, and how many per reason."""

    total: int
    leads: list[Lead]
    reasons: list[tuple[str, int]]
    where: LeadFilter


def lead_filter(tr: TimeRange, site_id: str, tier: str | None = None, status: str | None = None,
                held: bool = False) -> LeadFilter:
    return LeadFilter(site_id=site_id, tier=tier or None, status=status or None,
                      since=utc_aware(tr.start), until=utc_aware(tr.end), rejected=held)


def held_back(runtime: Runtime, where: LeadFilter) -> Held:
    with runtime.records.session() as session:
        by_reason = dict(session.execute(
            where.apply(select(Lead.rejected_reason, func.count())).group_by(Lead.rejected_reason)
        ).all())
        rows = session.scalars(where.apply(select(Lead)).order_by(Lead.created_at.desc(), Lead.id.desc())
                               .limit(INBOX_LIMIT)).all()
        session.expunge_all()
    reasons = [(r, by_reason[r]) for r in HELD_BACK if r in by_reason]
    return Held(sum(n for _, n in reasons), list(rows), reasons, where)


def inbox(runtime: Runtime, where: LeadFilter) -> Inbox:
    """Leads of the range, premium first and, within a tier, the most urgent follow-up
    first (no due time last); the total and tier report as the leads API gives them."""
    rank = case({t: i for i, t in enumerate(TIERS)}, value=Lead.tier, else_=len(TIERS))
    with runtime.records.session() as session:
        total, _ = find_leads(session, where, limit=1)
        rows = session.scalars(
            where.apply(select(Lead)).order_by(
                rank, Lead.follow_up_due.is_(None), Lead.follow_up_due, Lead.created_at.desc(), Lead.id.desc()
            ).limit(INBOX_LIMIT)
        ).all()
        session.expunge_all()
        tiers = scoring_report(session, where)
        held = session.scalar(replace(where, rejected=True, tier=None, status=None).apply(
            select(func.count()).select_from(Lead))) or 0
    return Inbox(total, list(rows), tiers, sum(t["won_value"] for t in tiers), where, held)


def journey(detail: leads_api.LeadDetail) -> list[dict[str, Any]]:
    """The lead's touchpoints, oldest first (from its attribution token)."""
    if not detail.touches:
        return []
    try:
        touches = Touches.from_dict(detail.touches)
    except (KeyError, TypeError, ValueError):
        return []
    return [
        {"ts": t.ts, "channel": t.channel, "source": t.source, "medium": t.medium,
         "campaign": t.campaign, "landing_path": t.landing_path}
        for t in touches.path
    ]
