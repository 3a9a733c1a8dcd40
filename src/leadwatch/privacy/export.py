"""The access and portability document (GDPR Art. 15 and 20, CCPA right to know):
everything stored about one subject, as one JSON-ready dict.

Leads are exported whole (every column, rejected submissions too) with their
follow-ups, and with the outbox messages about them; a UI account whose user name is
the address is exported without its password hash; earlier requests of the same
subject come from the audit log. ``not_included`` says what the document cannot hold
and why (docs/privacy.md).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadwatch.leads.models import LeadActivity
from leadwatch.privacy.models import PrivacyRequest
from leadwatch.privacy.notifications import messages_about
from leadwatch.privacy.subjects import Subject
from leadwatch.security.models import LoginThrottle, UserSession
from leadwatch.security.sessions import throttle_key
from leadwatch.store.models import Base, User

FORMAT = "leadwatch-subject-export/1"
NOT_INCLUDED = (
    ("Page views and sessions: kept under visitor keys hashed with a salt that is "
     "discarded after one day, so they cannot be linked to a person."),
    ("Web server, application and security logs and security incidents: kept by IP "
     "address for the security of the service, deleted after each log dataset's "
     "retention; leads keep only a keyed hash of the address."),
    ("Backups and copies made outside leadwatch (CSV exports, notifications already "
     "delivered to e-mail, Slack or other receivers)."),
)


def columns(row: Base, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """A row as JSON-ready values, column by column."""
    return {c.key: _plain(getattr(row, c.key)) for c in row.__table__.columns if c.key not in leave_out}


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime | date) else value


def subject_document(session: Session, subject: Subject, subject_hash: str) -> tuple[dict[str, Any], dict[str, int]]:
    """The export of ``subject`` and the rows found per table (for the audit log)."""
    leads = subject.leads(session)
    activities: dict[int, list[dict[str, Any]]] = {lead.id: [] for lead in leads}
    for activity in session.scalars(select(LeadActivity).where(LeadActivity.lead_id.in_(list(activities)))
                                    .order_by(LeadActivity.id)):
        activities[activity.lead_id].append(columns(activity, leave_out=("lead_id",)))
    messages = messages_about(session, leads)
    accounts = _accounts(session, subject.email)
    requests = session.scalars(select(PrivacyRequest).where(PrivacyRequest.subject_hash == subject_hash)
                               .order_by(PrivacyRequest.id)).all()
    document = {
        "format": FORMAT,
        "subject": {"email": subject.email, "phone_digits": subject.phone_digits, "site": subject.site_id},
        "leads": [{**columns(lead), "activities": activities[lead.id]} for lead in leads],
        "notifications": [columns(m, leave_out=("claim_token", "claimed_until")) for m in messages],
        "accounts": accounts,
        "requests": [columns(r, leave_out=("subject_hash",)) for r in requests],
        "not_included": list(NOT_INCLUDED),
    }
    counts = {
        "leads": len(leads),
        "lead_activities": sum(len(a) for a in activities.values()),
        "notify_outbox": len(messages),
        "users": len(accounts),
    }
    return document, counts


def _accounts(session: Session, email: str) -> list[dict[str, Any]]:
    """UI accounts named by the address (staff are data subjects too)."""
    found = []
    for user in session.scalars(select(User).where(func.lower(User.username) == email)):
        sessions = session.scalars(select(UserSession).where(UserSession.user_id == user.id)
                                   .order_by(UserSession.created_at)).all()
        throttle = session.get(LoginThrottle, throttle_key(user.username))
        found.append({
            **columns(user, leave_out=("password_hash",)),
            "sessions": [columns(s, leave_out=("id", "user_id")) for s in sessions],
            "failed_logins": columns(throttle, leave_out=("username",)) if throttle else None,
        })
    return found
