"""Sessions: a visitor's visits, ending after a configurable inactivity (30 minutes).

Kept in memory, keyed by (site, visitor key): a session is born at a visitor's first
event, carries the channel and journey of its landing, and dies after the timeout.
With several replicas, sessions are per replica: balance by client address (sticky)
to keep a visitor's events on one replica (docs/tracking.md).

A session also counts what the visitor did in it (page views, active seconds,
downloads), and can be found by its id: lead intake scores a visitor's engagement
from the sessions their attribution token lists (leadwatch.leads.engagement).
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadwatch.marketing.touch import Touches

PRUNE_EVERY = 5000  # touches of the map between sweeps of expired sessions


@dataclass
class Session:
    id: str
    started: datetime
    last_seen: datetime
    channel: str
    touches: Touches | None = None
    pageviews: int = 0
    active_seconds: float = 0.0  # the sum of its engagement events
    downloads: int = 0
    signed: tuple[Touches, str] | None = None  # touches and their token, signed once


class Sessions:
    def __init__(self, timeout: timedelta):
        self.timeout = timeout
        self._live: dict[tuple[str, str], Session] = {}
        self._by_id: dict[str, tuple[str, Session]] = {}  # session id -> (site id, session)
        self._lock = threading.Lock()
        self._since_prune = 0

    def __len__(self) -> int:
        return len(self._live)

    def touch(
        self, site_id: str, visitor: str, ts: datetime, channel: str, count: int = 1
    ) -> tuple[Session, bool]:
        """The visitor's session at ``ts`` and whether it began now (with ``channel``).
        ``count``: the events this touch stands for (a batch touches once)."""
        key = (site_id, visitor)
        with self._lock:
            self._maybe_prune(ts, count)
            current = self._live.get(key)
            if current is not None and ts - current.last_seen <= self.timeout:
                current.last_seen = max(current.last_seen, ts)
                return current, False
            if current is not None:
                del self._by_id[current.id]
            session = Session(secrets.token_hex(8), ts, ts, channel)
            self._live[key] = session
            self._by_id[session.id] = (site_id, session)
            return session, True

    def find(self, site_id: str, session_id: str) -> Session | None:
        """The live session of this process with this id on this site, if any."""
        found = self._by_id.get(session_id)
        return found[1] if found is not None and found[0] == site_id else None

    def _maybe_prune(self, ts: datetime, count: int = 1) -> None:
        self._since_prune += count
        if self._since_prune < PRUNE_EVERY:
            return
        self._since_prune = 0
        expired = [k for k, s in self._live.items() if ts - s.last_seen > self.timeout]
        for key in expired:
            del self._by_id[self._live.pop(key).id]
