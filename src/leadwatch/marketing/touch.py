"""Touches: how a visitor reached the site, carried in a signed token so that a lead
submitted days later is attributed without cookies.

A touch is one session's landing: when, which channel, the UTM source/medium/
campaign, the landing path and the referrer. ``Touches`` keeps the first touch, the
latest, and a few in between (what multi-touch attribution models spread credit
over). The collector hands the snippet a token after each landing; the snippet
writes it into forms' hidden ``attribution_token`` field; lead intake reads it with
:func:`read_touches`.

The token also lists the visitor's latest sessions (``SessionRef``: the collector's
session id and start), so lead intake can read what the visitor did in them
(engagement) without cookies and across the daily rotation of visitor keys.

Token: ``v2.<payload>.<mac>``; payload is base64url JSON ``{"t": [one array per
touch], "s": [[session id, start], ...]}``, mac the first 16 bytes of HMAC-SHA256
over ``v2.<payload>`` with the installation's secret key. ``v1`` tokens (touches
only, still in visitors' browsers) are read too. A token that fails any check reads
as None, never as an error.

A token is at most MAX_TOKEN_CHARS: a journey that would not fit is trimmed by
:func:`sign_touches` (see ``_trims``), keeping the first and latest touch's time,
channel, source, medium and campaign exact.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from pydantic import BeforeValidator, Field

from leadwatch.marketing.channels import CHANNELS

VERSION = "v2"
LEGACY_VERSION = "v1"  # touches only, no sessions
MAC_BYTES = 16
MAX_MIDDLE = 6  # touches kept between the first and the latest
MAX_SESSIONS = 10  # the visitor's latest sessions kept
MAX_SESSION_ID = 32
MAX_TOKEN_CHARS = 4096
SHORT_URL = 100  # a landing path or referrer, in a journey too long for a token
_MAC_CHARS = 22  # base64url of MAC_BYTES, unpadded
_LIMITS = {"source": 100, "medium": 100, "campaign": 100, "landing_path": 300, "referrer": 300}
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Touch:
    ts: datetime  # aware UTC
    channel: str
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    landing_path: str | None = None
    referrer: str | None = None

    def __post_init__(self) -> None:
        # Whole seconds in UTC: what the token keeps, so a read token equals its touch.
        ts = self.ts.replace(tzinfo=UTC) if self.ts.tzinfo is None else self.ts.astimezone(UTC)
        object.__setattr__(self, "ts", ts.replace(microsecond=0))
        for name, limit in _LIMITS.items():
            value = getattr(self, name)
            if value is not None:
                # Control characters are junk in these values, and six bytes each once
                # JSON-escaped: without them, a first and a latest touch always fit in a
                # token whatever their source, medium and campaign (see _trims).
                object.__setattr__(self, name, _CONTROL.sub("", value)[:limit])

    def same_source(self, other: Touch) -> bool:
        return (self.channel, self.source, self.medium, self.campaign) == (
            other.channel,
            other.source,
            other.medium,
            other.campaign,
        )

    def _encode(self) -> list[Any]:
        return [
            int(self.ts.timestamp()),
            self.channel,
            self.source,
            self.medium,
            self.campaign,
            self.landing_path,
            self.referrer,
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (ISO timestamp), e.g. for a lead's ``touches`` column."""
        return {
            "ts": self.ts.isoformat(),
            "channel": self.channel,
            "source": self.source,
            "medium": self.medium,
            "campaign": self.campaign,
            "landing_path": self.landing_path,
            "referrer": self.referrer,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Touch:
        return cls(**{**data, "ts": datetime.fromisoformat(data["ts"])})

    @classmethod
    def _decode(cls, data: Any) -> Touch:
        if not (isinstance(data, list) and len(data) == 7 and isinstance(data[0], int)):
            raise ValueError("a touch is a list of 7 fields")
        ts, channel, *rest = data
        if channel not in CHANNELS or not all(v is None or isinstance(v, str) for v in rest):
            raise ValueError("bad touch fields")
        return cls(datetime.fromtimestamp(ts, UTC), channel, *rest)


@dataclass(frozen=True, slots=True)
class SessionRef:
    """One of the visitor's sessions: the collector's session id and when it began
    (whole seconds since the epoch, UTC)."""

    id: str
    started: int

    def _encode(self) -> list[Any]:
        return [self.id, self.started]

    @classmethod
    def _decode(cls, data: Any) -> SessionRef:
        if not (isinstance(data, list) and len(data) == 2 and isinstance(data[0], str)
                and 0 < len(data[0]) <= MAX_SESSION_ID and isinstance(data[1], int)):
            raise ValueError("a session is [id, start]")
        return cls(data[0], data[1])


@dataclass(frozen=True, slots=True)
class Touches:
    """A visitor's journey: the first touch, the latest, and up to MAX_MIDDLE between;
    and the latest MAX_SESSIONS sessions, oldest first."""

    first: Touch
    latest: Touch
    middle: tuple[Touch, ...] = ()
    sessions: tuple[SessionRef, ...] = ()

    @classmethod
    def start(cls, touch: Touch) -> Touches:
        return cls(first=touch, latest=touch)

    @property
    def single(self) -> bool:
        """Every landing so far came from the same source."""
        return not self.middle and self.first.same_source(self.latest)

    @property
    def path(self) -> tuple[Touch, ...]:
        """The distinct touches, oldest first (just the first when there is one source)."""
        return (self.first,) if self.single else (self.first, *self.middle, self.latest)

    def add(self, touch: Touch) -> Touches:
        """The journey after a new landing. A repeat of the latest source only moves its
        time; the oldest middle touches give way when more than MAX_MIDDLE are kept."""
        if touch.same_source(self.latest):
            return replace(self, latest=touch)
        middle = self.middle if self.single else (*self.middle, self.latest)
        return replace(self, latest=touch, middle=tuple(middle[-MAX_MIDDLE:]))

    def with_session(self, session_id: str, started: datetime) -> Touches:
        """The journey with the session ``session_id`` listed (once; the oldest give way)."""
        if any(s.id == session_id for s in self.sessions):
            return self
        ref = SessionRef(session_id, int(started.replace(tzinfo=started.tzinfo or UTC).timestamp()))
        return replace(self, sessions=(*self.sessions, ref)[-MAX_SESSIONS:])

    def map(self, change: Callable[[Touch], Touch]) -> Touches:
        """The journey with ``change`` applied to every touch."""
        return replace(self, first=change(self.first), latest=change(self.latest),
                       middle=tuple(change(t) for t in self.middle))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for a record column: ``{"first", "latest", "middle"}``. The
        sessions are left out: stored with a lead, they would tie a named person to
        the pseudonymous event data."""
        return {
            "first": self.first.to_dict(),
            "latest": self.latest.to_dict(),
            "middle": [t.to_dict() for t in self.middle],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Touches:
        """The inverse of :meth:`to_dict`; raises ValueError/KeyError/TypeError if malformed."""
        return cls(
            first=Touch.from_dict(data["first"]),
            latest=Touch.from_dict(data["latest"]),
            middle=tuple(Touch.from_dict(t) for t in data.get("middle") or ()),
        )


def _over_long_as_none(value: Any) -> Any:
    # An over-long token reads as None anyway (read_touches). Refused instead, it would
    # cost the page view or the lead carrying it; and tokens from before tokens were
    # trimmed to fit can still be in visitors' browsers.
    return None if isinstance(value, str) and len(value) > MAX_TOKEN_CHARS else value


AttributionToken = Annotated[
    Annotated[str, Field(max_length=MAX_TOKEN_CHARS)] | None,
    BeforeValidator(_over_long_as_none),
    Field(description="The collector's signed attribution token; a longer one reads as none."),
]
"""A request field carrying a token: an over-long one is taken as no token, not refused."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, signed: str) -> bytes:
    return hmac.new(secret, signed.encode("ascii"), hashlib.sha256).digest()[:MAC_BYTES]


def sign_touches(secret: bytes, touches: Touches) -> str:
    """The token of a journey, at most MAX_TOKEN_CHARS long: a journey that would not
    fit is trimmed, step by step, until it does (see ``_trims``)."""
    if not secret:
        raise ValueError("an empty secret signs nothing")
    for journey in _trims(touches):
        signed = _signed(journey)
        if len(signed) + 1 + _MAC_CHARS <= MAX_TOKEN_CHARS:
            return f"{signed}.{_b64(_mac(secret, signed))}"
    raise AssertionError("unreachable: a first and a latest touch always fit")


def _signed(touches: Touches) -> str:
    """``v2.<payload>``: the part of a token the mac covers."""
    kept = (touches.first,) if not touches.middle and touches.first == touches.latest else (
        touches.first, *touches.middle, touches.latest
    )
    body = {"t": [t._encode() for t in kept], "s": [s._encode() for s in touches.sessions]}
    return f"{VERSION}.{_b64(orjson.dumps(body))}"


def _trims(touches: Touches) -> Iterator[Touches]:
    """The journey, then ever smaller versions of it, each giving up what attribution
    needs least: every touch's landing path and referrer cut to SHORT_URL characters;
    the middle touches, oldest first; the sessions, oldest first; the first and latest
    touch's landing path and referrer. What is always left (two touches of at most
    three 100-character values, four bytes a character at most) fits in a token, so
    first- and last-touch attribution stay exact."""
    yield touches
    journey = touches.map(_short_urls)
    yield journey
    while journey.middle:
        journey = replace(journey, middle=journey.middle[1:])
        yield journey
    while journey.sessions:
        journey = replace(journey, sessions=journey.sessions[1:])
        yield journey
    yield journey.map(lambda t: replace(t, landing_path=None, referrer=None))


def _short_urls(touch: Touch) -> Touch:
    return replace(
        touch,
        landing_path=touch.landing_path and touch.landing_path[:SHORT_URL],
        referrer=touch.referrer and touch.referrer[:SHORT_URL],
    )


def read_touches(secret: bytes, token: str) -> Touches | None:
    """The touches a token carries, or None when it is not one of ours (forged,
    altered, truncated, another version, or signed with another key)."""
    if not secret or not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        return None
    version, _, rest = token.strip().partition(".")
    payload, _, mac = rest.partition(".")
    if version not in (VERSION, LEGACY_VERSION) or not payload or not mac:
        return None
    try:
        given = _unb64(mac)
        if not hmac.compare_digest(given, _mac(secret, f"{version}.{payload}")):
            return None
        body = orjson.loads(_unb64(payload))
        if version == LEGACY_VERSION:
            body = {"t": body, "s": []}
        if not isinstance(body, dict):
            return None
        items, refs = body.get("t"), body.get("s")
        if not isinstance(items, list) or not 1 <= len(items) <= MAX_MIDDLE + 2:
            return None
        if not isinstance(refs, list) or len(refs) > MAX_SESSIONS:
            return None
        touches = [Touch._decode(item) for item in items]
        sessions = tuple(SessionRef._decode(ref) for ref in refs)
    except (ValueError, binascii.Error, orjson.JSONDecodeError, OverflowError, OSError):
        return None
    return Touches(first=touches[0], latest=touches[-1], middle=tuple(touches[1:-1]),
                   sessions=sessions)
