"""The lead tables of the RecordStore: one row per submission (rejected ones too, with
their reason, so nothing is thrown away) and the history of sales follow-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from leadwatch.store.models import Base, UTCDateTime, now

# The pipeline states sales moves a lead through; "new" until someone follows up.
STATUSES = ("new", "contacted", "qualified", "won", "lost")
_THREAT_WORDS = {"sqli": "SQL injection", "xss": "script (XSS)"}


def found_in(flags: list[dict[str, str]] | None) -> str:
    """A lead's flags in words, for the people who read it: "script (XSS) in the message"."""
    return ", ".join(f"{_THREAT_WORDS.get(f['threat'], f['threat'])} in the {f['field']}" for f in flags or ())


class Lead(Base):
    """A contact-form submission. ``rejected_reason`` is None for a real lead; a
    rejected one (spam, duplicate, blocked...) is kept with its reason and left out
    of every KPI. The score is stored with its breakdown and model version so it can
    be explained and recomputed."""

    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("site_id", "idempotency_key"),
        Index("ix_leads_site_id_email_created_at", "site_id", "email", "created_at"),
        Index("ix_leads_site_id_client_key_created_at", "site_id", "client_key", "created_at"),
        Index("ix_leads_site_id_created_at", "site_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    status: Mapped[str] = mapped_column(String(16), default="new")
    rejected_reason: Mapped[str | None] = mapped_column(String(32))
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("leads.id", ondelete="SET NULL"))

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    company: Mapped[str | None] = mapped_column(String(200))
    company_size: Mapped[str | None] = mapped_column(String(32))
    industry: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(2))
    budget: Mapped[str | None] = mapped_column(String(100))
    message: Mapped[str | None] = mapped_column(Text)
    consent: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    page_url: Mapped[str | None] = mapped_column(String(2048))
    referrer: Mapped[str | None] = mapped_column(String(2048))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    click_ids: Mapped[dict[str, str] | None] = mapped_column(JSON)
    experiments: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # The visitor's first and latest touch, from the attribution token, when valid.
    touches: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    channel: Mapped[str | None] = mapped_column(String(32))

    score: Mapped[int] = mapped_column(Integer, default=0)
    tier: Mapped[str] = mapped_column(String(16), default="poor")
    score_breakdown: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    model_version: Mapped[str | None] = mapped_column(String(40))
    follow_up_due: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    won_value: Mapped[float | None] = mapped_column(Float)

    # Threats found in fields (XSS stored as text): [{"field": ..., "threat": ...}].
    flags: Mapped[list[dict[str, str]] | None] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    # A keyed hash of the client IP (never the IP): the per-IP limit across replicas.
    client_key: Mapped[str | None] = mapped_column(String(32))


class LeadActivity(Base):
    """One follow-up or outcome recorded by sales: the lead's history."""

    __tablename__ = "lead_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
