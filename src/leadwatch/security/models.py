"""RecordStore tables of the security capability: bans, incidents, login throttles and
UI sessions. They live in the RecordStore (not the event store) because every replica
must see the same state at once, and because people change them (lift a ban, judge an
incident). Alembic revisions: ``0003_security``, ``0007_security_open_incident``."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from sqlalchemy import ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from leadwatch.store.models import Base, UTCDateTime, now

SeverityName = Literal["low", "medium", "high", "critical"]
# An analyst's verdicts, as SOC triage names them: resolved (a true positive: an attack,
# dealt with), benign_positive (a right detection of harmless activity: a client's own
# pasted tag, the office's own scanner), false_positive (the detector was wrong).
IncidentStatus = Literal["open", "resolved", "benign_positive", "false_positive"]
SEVERITIES: tuple[str, ...] = get_args(SeverityName)
INCIDENT_STATES: tuple[str, ...] = get_args(IncidentStatus)


class IpBan(Base):
    """An address (or network) refused by every replica until ``expires_at``."""

    __tablename__ = "ip_bans"
    __table_args__ = (Index("ix_ip_bans_expires_at", "expires_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    network: Mapped[str] = mapped_column(String(64))  # "203.0.113.9/32", "2001:db8::/48"
    reason: Mapped[str] = mapped_column(String(500))
    threat: Mapped[str | None] = mapped_column(String(32))  # None for a ban made by hand
    created_by: Mapped[str] = mapped_column(String(150))  # "auto", a username, "cli"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lifted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SecurityIncident(Base):
    """Security events of one address and threat, close together in time.

    ``first_seen_at`` is the first malicious event, ``detected_at`` when leadwatch
    knew (MTTD is the gap); ``resolved_at`` ends it (MTTR is detected → resolved)."""

    __tablename__ = "security_incidents"
    __table_args__ = (
        Index("ix_security_incidents_lookup", "site_id", "ip", "threat", "status"),
        Index("ix_security_incidents_detected_at", "detected_at"),
        # One open incident per attacker and threat, whichever replica opens it
        # (Alembic revision 0007_security_open_incident).
        Index("ux_security_incidents_open", "site_id", "ip", "threat", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(String(63))
    ip: Mapped[str] = mapped_column(String(64))
    threat: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="open")
    events: Mapped[int] = mapped_column(Integer, default=0)
    # Events the response contained (blocked, rate limited, banned) vs merely saw.
    contained: Mapped[int] = mapped_column(Integer, default=0)
    first_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(150))  # "auto" or a person
    note: Mapped[str | None] = mapped_column(Text)
    last_evidence: Mapped[str | None] = mapped_column(String(200))


class LoginThrottle(Base):
    """Consecutive failed logins to one account, and the lockout they earned."""

    __tablename__ = "login_throttles"

    username: Mapped[str] = mapped_column(String(150), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(Base):
    """A UI login. The cookie carries the id, signed; logging out deletes the row, so a
    stolen cookie dies with the session rather than living until it expires."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_expires_at", "expires_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))
