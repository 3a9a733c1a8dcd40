"""Anonymising leads: what erasure and retention do to a lead and to what hangs off it.

A lead row is kept, its personal fields replaced, rather than deleted: the row is a
business fact (a lead came in on this day, from this channel, scored this tier, was
won for this value) that ROI, win rates, funnels and the scoring report count. What
stays says nothing about who it was. Fields kept: site, times, status, tier, score
and its breakdown, channel and UTM values, company size, industry, country, budget,
consent flags, experiments, flags, outcome and value. Fields that were set and feed
the score (phone, company) read ``[erased]`` rather than nothing, so that
``leadwatch leads rescore`` scores the lead as before.

What hangs off a lead: the sales follow-up notes (free text about the person) are
replaced; outbox messages still waiting are deleted (nothing is sent to or about an
erased person), delivered or dead ones lose their content but keep their delivery
history.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from leadwatch.leads.models import Lead, LeadActivity
from leadwatch.notify.models import PENDING, OutboxMessage
from leadwatch.privacy.notifications import messages_about, redacted
from leadwatch.privacy.subjects import ERASED

COUNTS = ("leads", "lead_activities", "notify_outbox_deleted", "notify_outbox_redacted")


def anonymise(session: Session, leads: Sequence[Lead]) -> dict[str, int]:
    """Anonymise ``leads`` and what hangs off them, in the caller's transaction; rows
    changed per table."""
    counts: Counter[str] = Counter({name: 0 for name in COUNTS})
    if not leads:
        return dict(counts)
    pending = []
    for message in messages_about(session, leads):
        if message.status == PENDING:
            pending.append(message.id)
        else:
            message.message = redacted(message.message)
            message.last_error = ERASED if message.last_error else None
            counts["notify_outbox_redacted"] += 1
    if pending:
        # A statement rather than session.delete: a row another replica deleted
        # meanwhile is no error. A worker delivering one right now may still send it
        # once (within its lease).
        deleted = session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(pending)))
        counts["notify_outbox_deleted"] += deleted.rowcount  # type: ignore[attr-defined]
    ids = [lead.id for lead in leads]
    for activity in session.scalars(select(LeadActivity).where(LeadActivity.lead_id.in_(ids))):
        if activity.note is not None:
            activity.note = ERASED
            counts["lead_activities"] += 1
    for lead in leads:
        _anonymise_lead(lead)
        counts["leads"] += 1
    session.flush()
    return dict(counts)


def _anonymise_lead(lead: Lead) -> None:
    lead.name = lead.email = ERASED
    lead.phone = ERASED if lead.phone else None
    lead.company = ERASED if lead.company else None
    lead.message = ERASED if lead.message else None
    lead.page_url = _without_query(lead.page_url)
    lead.referrer = _origin(lead.referrer)
    lead.click_ids = None  # ad platforms' ids of this person's click
    lead.touches = _touches_without_referrers(lead.touches)
    # Chosen by the submitting client, so it may hold anything; the keyed hash of the
    # client's IP links the lead to the address.
    lead.idempotency_key = lead.client_key = None


def _without_query(url: str | None) -> str | None:
    """The page, without the query and fragment a form may be prefilled through."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL at all: nothing of it is known to be harmless
        return None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def _origin(url: str | None) -> str | None:
    """Only the referring site: the path of a referrer can name a person (a webmail
    message, a profile page)."""
    if not url:
        return url
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return urlunsplit((parts.scheme, parts.netloc, "/", "", "")) if parts.netloc else None


def _touches_without_referrers(touches: dict[str, Any] | None) -> dict[str, Any] | None:
    # Attribution reads each touch's time, channel, source, medium and campaign.
    if not touches:
        return touches

    def clean(touch: Any) -> Any:
        return {**touch, "referrer": _origin(touch.get("referrer"))} if isinstance(touch, dict) else touch

    return {key: [clean(t) for t in value] if isinstance(value, list) else clean(value)
            for key, value in touches.items()}
