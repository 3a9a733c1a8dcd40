"""Silences and maintenance windows: label matchers plus a time range. A silenced
alert still shows as firing, but opens no incident and pages no one."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from leadwatch.alerting.models import Silence

_MATCHER = re.compile(r'^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$')


class SilenceError(ValueError):
    """A silence that cannot be created; the message names the field."""


def parse_matcher(text: str) -> list[str]:
    """``service=web``, ``alertname=~"Web.*"`` -> ``[label, op, value]``."""
    m = _MATCHER.match(text)
    if not m:
        raise SilenceError(f"not a matcher like label=value or label=~regex: {text!r}")
    label, op, value = m.groups()
    if op in ("=~", "!~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise SilenceError(f"bad regex in {text!r}: {exc}") from None
    return [label, op, value]


def create(
    session: Session,
    matchers: list[list[str]],
    starts_at: datetime,
    ends_at: datetime,
    comment: str,
    created_by: str,
    kind: str = "silence",
) -> Silence:
    if not matchers:
        raise SilenceError("matchers: at least one matcher is required")
    if ends_at <= starts_at:
        raise SilenceError("ends_at: must be after starts_at")
    silence = Silence(kind=kind, matchers=matchers, starts_at=starts_at, ends_at=ends_at,
                      comment=comment, created_by=created_by)
    session.add(silence)
    session.flush()
    return silence


def expire(session: Session, silence_id: int, at: datetime) -> bool:
    silence = session.get(Silence, silence_id)
    if silence is None or silence.expired_at is not None or silence.ends_at <= at:
        return False
    silence.expired_at = at
    return True


def active(session: Session, at: datetime) -> list[Silence]:
    return list(session.scalars(
        select(Silence).where(Silence.starts_at <= at, Silence.ends_at > at, Silence.expired_at.is_(None))
    ))


def listed(session: Session, at: datetime, include_expired: bool = False) -> list[Silence]:
    query = select(Silence).order_by(Silence.id)
    if not include_expired:
        query = query.where(Silence.ends_at > at, Silence.expired_at.is_(None))
    return list(session.scalars(query))
