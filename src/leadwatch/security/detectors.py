"""Rate detectors: brute force, credential stuffing, floods, probing and form-spam
bursts, counted per client address and site in sliding windows.

They are fed the same way from live requests (the middleware, after each response)
and from ingested access logs, so times are the requests' own (seconds since the
epoch): replaying an old log detects what happened then, at the pace it happened.
A detector fires once when its threshold is crossed and then stays quiet for one
window, so a flood of ten thousand requests is one detection, not ten thousand.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime

from leadwatch.security.detect import Threat
from leadwatch.security.rates import DEFAULT_MAX_KEYS, Clock, DistinctWindow, Run, SlidingWindow
from leadwatch.settings import SecuritySettings

NOT_FOUND = 404


@dataclass(frozen=True)
class Observed:
    """One request, as much as a detector needs of it."""

    site_id: str
    ip: str
    method: str
    path: str
    status: int
    at: float  # seconds since the epoch
    probe: bool = False  # a probe rule matched the request (see rules.yaml)


@dataclass(frozen=True)
class Detection:
    threat: Threat
    site_id: str
    ip: str
    count: int  # hits in the window when it fired
    window: float  # seconds
    first_seen: datetime  # naive UTC: the oldest hit in the window
    at: datetime  # naive UTC: the hit that crossed the threshold
    path: str | None = None

    @property
    def evidence(self) -> str:
        return f"more than {self.count - 1} in {self.window:g}s"


def route(spec: str) -> tuple[str, str]:
    """A "METHOD /path" setting as (method, path)."""
    method, _, path = spec.partition(" ")
    return method, path


def _routes(specs: list[str]) -> frozenset[tuple[str, str]]:
    return frozenset(map(route, specs))


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


class RateDetectors:
    def __init__(
        self, settings: SecuritySettings, clock: Clock = time.time, max_keys: int = DEFAULT_MAX_KEYS
    ):
        s = settings
        self.clock = clock
        self.login_routes = _routes(s.failed_login_routes)
        self.login_failed = frozenset(s.failed_login_statuses)
        self.form_routes = _routes(s.form_routes)
        self.windows: dict[Threat, SlidingWindow] = {
            Threat.BRUTE_FORCE: SlidingWindow(s.brute_force_failures, s.brute_force_window_seconds, clock, max_keys),
            Threat.FLOOD: SlidingWindow(s.flood_requests_per_minute, 60.0, clock, max_keys),
            Threat.PROBING: SlidingWindow(s.probing_requests, s.probing_window_seconds, clock, max_keys),
            Threat.FORM_SPAM: SlidingWindow(s.form_spam_submissions, s.form_spam_window_seconds, clock, max_keys),
        }
        self.stuffing = DistinctWindow(s.stuffing_usernames, s.stuffing_window_seconds, clock, max_keys)
        self._fired: OrderedDict[Hashable, float] = OrderedDict()
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def is_failed_login(self, method: str, path: str, status: int) -> bool:
        return (method, path) in self.login_routes and status in self.login_failed

    def observe(self, req: Observed) -> list[Detection]:
        """Count one answered request; the detections it completes."""
        found = []
        counted = [Threat.FLOOD]
        if self.is_failed_login(req.method, req.path, req.status):
            counted.append(Threat.BRUTE_FORCE)
        if req.probe or req.status == NOT_FOUND:
            counted.append(Threat.PROBING)
        if (req.method, req.path) in self.form_routes and 200 <= req.status < 300:
            counted.append(Threat.FORM_SPAM)
        for threat in counted:
            window = self.windows[threat]
            key = (req.site_id, req.ip)
            run = window.hit(key, req.at)
            if run and (detection := self._fire(threat, req.site_id, req.ip, window.threshold + 1,
                                                window.window, run, req.path)):
                found.append(detection)
        return found

    def login_failure(self, site_id: str, ip: str, username: str, at: float | None = None) -> list[Detection]:
        """A failed login naming ``username``: many names from one address is stuffing."""
        at = self.clock() if at is None else at
        s = self.stuffing
        run = s.add((site_id, ip), username.casefold(), at)
        if run and (detection := self._fire(Threat.CREDENTIAL_STUFFING, site_id, ip, s.threshold + 1,
                                            s.window, run, None)):
            return [detection]
        return []

    def _fire(
        self, threat: Threat, site_id: str, ip: str, count: int, window: float,
        run: Run, path: str | None,
    ) -> Detection | None:
        first, at = run
        key = (threat, site_id, ip)
        with self._lock:
            last = self._fired.get(key)
            # Either side: a run found late (out of order) is the same attack too.
            if last is not None and abs(at - last) < window:
                return None
            self._fired[key] = at
            self._fired.move_to_end(key)
            if len(self._fired) > self._max_keys:
                self._fired.popitem(last=False)
        return Detection(threat, site_id, ip, count, window, _utc(first), _utc(at), path)
