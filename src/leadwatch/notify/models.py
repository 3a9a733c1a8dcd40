"""The notification outbox table: messages waiting for, or done with, delivery."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadwatch.store.models import Base, UTCDateTime, now

PENDING, SENT, DEAD = "pending", "sent", "dead"


class OutboxMessage(Base):
    """One message for one receiver. ``pending`` until delivered (``sent``) or out of
    attempts or refused for good (``dead``). A worker claims a row by writing its
    ``claim_token`` and a lease end; another worker may take it only after the lease."""

    __tablename__ = "notify_outbox"
    __table_args__ = (Index("ix_notify_outbox_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    receiver: Mapped[str] = mapped_column(String(63))
    message: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(12), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    claim_token: Mapped[str | None] = mapped_column(String(32))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
