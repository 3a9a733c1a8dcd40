"""The audit table of data-subject requests: proof that a request was answered,
kept without the personal data it was about. Alembic revision: ``0008_privacy_requests``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from leadwatch.store.models import Base, UTCDateTime, now

KINDS = ("export", "erase", "retention")


class PrivacyRequest(Base):
    """One export, erasure or retention run. ``subject_hash`` is a keyed hash of the
    normalised e-mail address (None for a retention run, which has no one subject):
    the same address always hashes the same, so a later request can be matched with
    earlier ones, but the address cannot be read back from it."""

    __tablename__ = "privacy_requests"
    __table_args__ = (Index("ix_privacy_requests_subject_hash", "subject_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    subject_hash: Mapped[str | None] = mapped_column(String(64))
    site_id: Mapped[str | None] = mapped_column(String(63))  # None: every site
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(150))  # "cli", "api", "retention", "ui:<user name>"
    # Rows found (export) or changed (erase, retention), per table.
    counts: Mapped[dict[str, int]] = mapped_column(JSON)
