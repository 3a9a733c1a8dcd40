"""Record tables of alerting: incidents with their timeline, and silences (which
include maintenance windows). Alembic revision 0004_alerting creates them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadwatch.store.models import Base, UTCDateTime, now

OPEN, ACKNOWLEDGED, RESOLVED = "open", "acknowledged", "resolved"


class Incident(Base):
    """One group of firing alerts (same values of ``alerting.group_by``), from the
    embedded evaluator or from Alertmanager. ``dedup_key`` is derived from the group
    labels, so it is stable across restarts and replicas, and is PagerDuty's key."""

    __tablename__ = "alert_incidents"
    __table_args__ = (Index("ix_alert_incidents_dedup_key_status", "dedup_key", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    severity: Mapped[str] = mapped_column(String(16))
    service: Mapped[str | None] = mapped_column(String(63))
    source: Mapped[str] = mapped_column(String(16))  # embedded | alertmanager
    status: Mapped[str] = mapped_column(String(16), default=OPEN)
    group_labels: Mapped[dict[str, str]] = mapped_column(JSON)
    alerts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    runbook_url: Mapped[str | None] = mapped_column(String(500))
    # When the condition first held (the alert's activeAt/startsAt): detection delay starts here.
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(150))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Escalation: the index of the next step of the tier's policy, and when it is due.
    next_step: Mapped[int] = mapped_column(Integer, default=0)
    next_step_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Receivers that were sent a trigger, so acknowledge/resolve reach the same ones.
    notified: Mapped[list[str]] = mapped_column(JSON, default=list)

    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="incident", order_by="TimelineEntry.id", cascade="all, delete-orphan"
    )


class TimelineEntry(Base):
    __tablename__ = "alert_incident_timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("alert_incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    kind: Mapped[str] = mapped_column(String(32))  # opened, alert, escalated, acknowledged, resolved, ...
    message: Mapped[str] = mapped_column(Text)
    actor: Mapped[str | None] = mapped_column(String(150))

    incident: Mapped[Incident] = relationship(back_populates="timeline")


class Silence(Base):
    """Mutes matching alerts between ``starts_at`` and ``ends_at``: an ad-hoc silence,
    or a planned maintenance window (``kind``). ``matchers`` are label equalities
    or regexes, as in Alertmanager: ``[["service", "=", "web"], ...]``."""

    __tablename__ = "alert_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="silence")  # silence | maintenance
    matchers: Mapped[list[list[str]]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    comment: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(150))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
