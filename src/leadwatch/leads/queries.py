"""Reading leads back: filtered lists (API, CSV export, CLI), one lead with its
history, the scoring report and rescoring after a model change."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from leadwatch.leads.hours import business_calendars, follow_up_due
from leadwatch.leads.models import Lead, LeadActivity
from leadwatch.leads.scoring import ScoreInput, model_version, score_lead, stored_engagement
from leadwatch.settings import TIERS, Settings


@dataclass(frozen=True)
class LeadFilter:
    site_id: str | None = None
    tier: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    rejected: bool = False  # True: only rejected submissions; False: only real leads

    def apply(self, query: Select[Any]) -> Select[Any]:
        conditions = [Lead.rejected_reason.is_not(None) if self.rejected else Lead.rejected_reason.is_(None)]
        if self.site_id:
            conditions.append(Lead.site_id == self.site_id)
        if self.tier:
            conditions.append(Lead.tier == self.tier)
        if self.status:
            conditions.append(Lead.status == self.status)
        if self.since:
            conditions.append(Lead.created_at >= self.since)
        if self.until:
            conditions.append(Lead.created_at < self.until)
        if self.text:
            # LIKE wildcards in the search are literal characters.
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            conditions.append(or_(*(
                column.ilike(pattern, escape="\\")
                for column in (Lead.name, Lead.email, Lead.company, Lead.message)
            )))
        return query.where(*conditions)


def find_leads(session: Session, where: LeadFilter, limit: int, offset: int = 0) -> tuple[int, list[Lead]]:
    total = session.scalar(where.apply(select(func.count()).select_from(Lead))) or 0
    rows = session.scalars(
        where.apply(select(Lead)).order_by(Lead.created_at.desc(), Lead.id.desc()).limit(limit).offset(offset)
    ).all()
    return int(total), list(rows)


def iter_leads(session: Session, where: LeadFilter, chunk: int = 500) -> Iterator[Lead]:
    """Every matching lead, oldest first, read in chunks (exports of any size)."""
    last = 0
    while True:
        rows = session.scalars(
            where.apply(select(Lead)).where(Lead.id > last).order_by(Lead.id).limit(chunk)
        ).all()
        yield from rows
        if len(rows) < chunk:
            return
        last = rows[-1].id


CSV_COLUMNS = (
    "id", "site_id", "created_at", "status", "rejected_reason", "duplicate_of", "name", "email",
    "phone", "company", "company_size", "industry", "country", "budget", "message", "channel",
    "score", "tier", "model_version", "follow_up_due", "contacted_at", "outcome_at", "won_value",
    "page_url", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
)
# A cell starting with one of these is a formula to spreadsheet programs.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return "'" + text if isinstance(value, str) and text.startswith(_FORMULA_STARTS) else text


def csv_lines(leads: Iterable[Lead]) -> Iterator[str]:
    """CSV text, header first, one chunk per lead; text cells that a spreadsheet would
    run as a formula are prefixed with an apostrophe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for lead in leads:
        writer.writerow([_cell(getattr(lead, c)) for c in CSV_COLUMNS])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def activities(session: Session, lead_id: int) -> list[LeadActivity]:
    return list(session.scalars(
        select(LeadActivity).where(LeadActivity.lead_id == lead_id).order_by(LeadActivity.id)
    ))


def scoring_report(session: Session, where: LeadFilter) -> list[dict[str, Any]]:
    """Per tier: leads, how many were qualified (qualified or won at some point) and
    won, and the rates, so the model can be checked against outcomes."""
    reached = select(LeadActivity.lead_id).where(LeadActivity.status.in_(("qualified", "won")))
    query = where.apply(
        select(
            Lead.tier,
            func.count(),
            func.sum(case((or_(Lead.status.in_(("qualified", "won")), Lead.id.in_(reached)), 1), else_=0)),
            func.sum(case((Lead.status == "won", 1), else_=0)),
            func.sum(case((Lead.status == "won", func.coalesce(Lead.won_value, 0.0)), else_=0.0)),
        ).group_by(Lead.tier)
    )
    found = {tier: (n, q or 0, w or 0, v or 0.0) for tier, n, q, w, v in session.execute(query)}
    report = []
    for tier in TIERS:
        n, qualified, won, value = found.get(tier, (0, 0, 0, 0.0))
        report.append({
            "tier": tier, "leads": n, "qualified": int(qualified), "won": int(won),
            "won_value": float(value),
            "qualification_rate": round(qualified / n, 4) if n else None,
            "conversion_rate": round(won / n, 4) if n else None,
        })
    return report


def rescore(session: Session, settings: Settings, site_id: str | None = None,
            dry_run: bool = False) -> tuple[int, int]:
    """Score again every lead made by another model version: (looked at, changed).
    The engagement is the one stored in the breakdown (the visitor's sessions as they
    were at submission). Leads nobody has followed up get a due time for their new tier."""
    version = model_version(settings.leads.scoring)
    calendars = business_calendars(settings)
    query = select(Lead).where(or_(Lead.model_version.is_(None), Lead.model_version != version))
    if site_id:
        query = query.where(Lead.site_id == site_id)
    seen = changed = 0
    for lead in session.scalars(query.order_by(Lead.id)):
        seen += 1
        site = settings.leads.site(lead.site_id)
        score = score_lead(ScoreInput(
            channel=lead.channel or "Unassigned", phone=bool(lead.phone), company=bool(lead.company),
            budget=bool(lead.budget), company_size=lead.company_size, industry=lead.industry,
            country=lead.country, engagement=stored_engagement(lead.score_breakdown),
        ), site, settings.leads.scoring)
        changed += (score.total, score.tier) != (lead.score, lead.tier)
        if dry_run:
            continue
        lead.score, lead.tier, lead.model_version = score.total, score.tier, score.model_version
        lead.score_breakdown = score.breakdown(settings.leads.scoring.weights)
        if lead.status == "new" and (calendar := calendars.get(lead.site_id)) is not None:
            lead.follow_up_due = follow_up_due(score.tier, lead.created_at, calendar,
                                               settings.leads.premium_response_minutes)
    return seen, changed
