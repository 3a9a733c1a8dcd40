"""Spam defence that needs no third party: the form token (when was the form shown),
a keyed hash of the client address, per-IP and per-email limits counted in the
RecordStore (so every replica sees them), and duplicate detection.

Form token: ``f1.<rendered_at_ms>.<nonce>.<mac>`` where mac is the first 16 bytes of
HMAC-SHA256 over ``f1.<site>.<rendered_at_ms>.<nonce>`` with the installation's key.
It proves when the form was rendered (bots that post at once are too fast) and,
being unique per rendering, doubles as the idempotency key of a double-clicked form.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from leadwatch.leads.models import Lead
from leadwatch.settings import LeadsSettings
from leadwatch.store.records import RecordStore

TOKEN_VERSION = "f1"
MAC_BYTES = 16


def _mac(secret: bytes, signed: str) -> str:
    digest = hmac.new(secret, signed.encode(), hashlib.sha256).digest()[:MAC_BYTES]
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def issue_form_token(secret: bytes, site_id: str, rendered_at: datetime) -> str:
    ms = int(rendered_at.timestamp() * 1000)
    nonce = secrets.token_urlsafe(12)
    return f"{TOKEN_VERSION}.{ms}.{nonce}.{_mac(secret, f'{TOKEN_VERSION}.{site_id}.{ms}.{nonce}')}"


def form_token_time(secret: bytes, site_id: str, token: str) -> float | None:
    """The token's rendering time (Unix seconds), or None when it is not a valid token
    of this site signed with this key."""
    parts = token.split(".")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION or not parts[1].isdigit() or len(parts[1]) > 15:
        return None
    expected = _mac(secret, f"{TOKEN_VERSION}.{site_id}.{parts[1]}.{parts[2]}")
    if not hmac.compare_digest(expected.encode(), parts[3].encode()):
        return None
    return int(parts[1]) / 1000


def client_key(secret: bytes, ip: str | None) -> str | None:
    """A keyed hash of the client IP: counts submissions per address without storing it."""
    if not ip:
        return None
    return hmac.new(secret, b"lead-ip:" + ip.encode(), hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class Limited:
    reason: str  # which limit: "ip" or "email"
    retry_after: int  # seconds until a submission is allowed again


def rate_limited(
    session: Session, settings: LeadsSettings, site_id: str, email: str, key: str | None,
    at: datetime,
) -> Limited | None:
    """Is another submission over a limit? Every stored submission of the window counts
    except the ones refused for being over it (so waiting Retry-After always works)."""
    window = timedelta(seconds=settings.rate_limit_window_seconds)
    checks = [("email", Lead.email == email, settings.rate_limit_per_email)]
    if key is not None:
        checks.append(("ip", Lead.client_key == key, settings.rate_limit_per_ip))
    for name, condition, limit in checks:
        # The limit-th most recent submission of the window: when there is one, the
        # limit is reached, and it is the first to leave the window. Asked for alone
        # (OFFSET on the index) so a generous limit costs no rows fetched.
        oldest = session.scalar(
            select(Lead.created_at)
            .where(Lead.site_id == site_id, condition, Lead.created_at > at - window,
                   func.coalesce(Lead.rejected_reason, "") != "rate_limited")
            .order_by(Lead.created_at.desc())
            .offset(limit - 1)
            .limit(1)
        )
        if oldest is not None:
            wait = (oldest + window - at).total_seconds()
            return Limited(name, max(1, int(wait) + 1))
    return None


def first_of_duplicate(
    session: Session, settings: LeadsSettings, site_id: str, email: str, at: datetime
) -> int | None:
    """The id of the first lead from ``email`` within the duplicate window, if any."""
    since = at - timedelta(hours=settings.duplicate_window_hours)
    return session.scalar(
        select(Lead.id)
        .where(Lead.site_id == site_id, Lead.email == email, Lead.created_at > since,
               Lead.rejected_reason.is_(None))
        .order_by(Lead.id)
        .limit(1)
    )


_STRIPES = [threading.Lock() for _ in range(64)]


@contextmanager
def serialised_session(records: RecordStore, site_id: str, email: str) -> Iterator[Session]:
    """A transaction in which no other submission of ``email`` on ``site_id`` runs, so
    that of two simultaneous ones the second sees the first (duplicates, limits,
    idempotency). PostgreSQL: a transaction advisory lock, across replicas. SQLite (one
    process writes): a striped lock held until the transaction has committed."""
    key = zlib.crc32(f"lead:{site_id}:{email}".encode())
    if records.backend == "postgresql":
        with records.session() as session:
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
            yield session
        return
    with _STRIPES[key % len(_STRIPES)], records.session() as session:
        yield session
