"""The synthetic monitor inside a running leadwatch: the journeys, their scheduler,
the ``probe_results`` write buffer, the state of every journey per location, the
locations' dead-man switch and the metrics.

Every result, from the server's own scheduler or pushed by a remote probe, goes
through :meth:`SyntheticMonitor.record`: stored, counted, folded into the state,
and the synthetic leads it created deleted.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import structlog

from leadwatch.settings import ConfigError
from leadwatch.store.schema import PROBE_RESULTS, json_text, utcnow
from leadwatch.synthetic import queries
from leadwatch.synthetic.browser import BrowserPool
from leadwatch.synthetic.catalog import Catalog, load_catalog
from leadwatch.synthetic.journey import Journey, JourneyError
from leadwatch.synthetic.marker import sign_marker
from leadwatch.synthetic.metrics import ProbeMetrics
from leadwatch.synthetic.results import RunResult
from leadwatch.synthetic.runner import run_journey
from leadwatch.synthetic.scheduler import Scheduler
from leadwatch.synthetic.state import State, StateTracker, Status, Transition, worst

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

log = structlog.get_logger(__name__)

STATE_KIND = "state"  # probe_results rows recording each state transition
HEALTHY = (State.UP, State.RECOVERED)
RESTORE_RUNS = 200  # runs per journey and location read back at start


class SyntheticMonitor:
    name = "synthetic"

    def __init__(self, runtime: Runtime, *, now: Callable[[], datetime] = utcnow):
        settings = runtime.settings
        self.settings = settings.synthetic
        self._runtime = runtime
        self.now = now
        try:
            self.catalog: Catalog = load_catalog(settings)
        except JourneyError as exc:
            raise ConfigError(exc.problems) from None
        self.buffer = runtime.write_buffer(PROBE_RESULTS)
        self.metrics = ProbeMetrics(runtime.metrics.registry)
        self.tracker = StateTracker({j.name: j.thresholds for j in self.catalog.journeys})
        self.browsers = BrowserPool.from_settings(settings)
        # Called with the marker id of each recorded run: delete its synthetic leads.
        self.cleanups: list[Callable[[str], object]] = []
        self._seen: dict[str, datetime] = {}
        self._location_up: dict[str, bool] = {}
        self._lock = threading.Lock()
        own = self.catalog.at(self.settings.location)
        self.scheduler = (
            Scheduler(own, self.run, workers=self.settings.workers,
                      jitter=self.settings.jitter_fraction,
                      on_skip=lambda j: self.metrics.skipped.labels(j).inc(),
                      tick=self._alive)
            if self.settings.enabled and own else None
        )

    # ---- service ----

    def start(self) -> None:
        self.restore()
        if self.scheduler is not None:
            self.scheduler.start()

    def close(self) -> None:
        if self.scheduler is not None:
            self.scheduler.close()

    def restore(self) -> None:
        """Consecutive failures and last-seen times from the stored results."""
        now = self.now()
        known = {j.name for j in self.catalog.journeys}
        for r in queries.latest_outcomes(self._runtime.events, now - timedelta(days=30), RESTORE_RUNS):
            if r["journey"] in known:
                self.tracker.record(r["journey"], r["location"], bool(r["success"]), r["ts"], r["error"])
        for journey in known:
            for location, status in self.tracker.of_journey(journey).items():
                self.metrics.status_now(journey, location, status)
        for location, ts in queries.last_seen(self._runtime.events, now - timedelta(days=30)).items():
            self._seen[location] = max(ts, self._seen.get(location, ts))

    # ---- running and recording ----

    def marker(self, marker_id: str, ttl: float = 3600.0) -> tuple[str, str]:
        return marker_id, sign_marker(self._runtime.secret_key, marker_id, ttl)

    def run(self, journey: Journey) -> RunResult:
        """Run a journey here (the server's own location) and record the result."""
        result = run_journey(
            journey,
            location=self.settings.location,
            variables=self.catalog.variables,
            browsers=self.browsers,
            marker=self.marker,
        )
        self.record(result)
        return result

    def record(self, result: RunResult) -> Transition | None:
        self.buffer.add(result.rows())
        self.metrics.observe(result)
        self.heartbeat(result.location, result.started + timedelta(seconds=result.duration))
        change = self.tracker.record(result.journey, result.location, result.success,
                                     result.started, result.error)
        status = self.tracker.status(result.journey, result.location)
        assert status is not None
        self.metrics.status_now(result.journey, result.location, status)
        if change is not None:
            self._announce(change)
        if result.marker_id:
            for cleanup in self.cleanups:
                try:
                    cleanup(result.marker_id)
                except Exception:  # the result is stored; a failed cleanup is retried by age
                    log.exception("synthetic_cleanup_failed", marker=result.marker_id)
        log.info("synthetic_run", journey=result.journey, location=result.location,
                 success=result.success, duration=result.duration, error=result.error)
        return change

    def _announce(self, change: Transition) -> None:
        current = change.current
        previous = change.previous.state.value if change.previous else None
        (log.warning if current.state is State.DOWN else log.info)(
            "synthetic_state", journey=change.journey, location=change.location,
            state=current.state.value, previous=previous, severity=current.severity,
            failures=current.failures,
        )
        self.buffer.add([(
            self._site_of(change.journey), current.since, uuid.uuid4().hex, change.journey,
            change.location, STATE_KIND, None, float(current.state in HEALTHY),
            None, current.last_error,
            json_text({"state": current.state.value, "previous": previous,
                       "severity": current.severity, "failures": current.failures}),
        )])

    def _site_of(self, journey: str) -> str:
        found = self.catalog.get(journey)
        return found.site if found else self._runtime.settings.sites[0].id

    # ---- locations and the dead-man switch ----

    def heartbeat(self, location: str, at: datetime | None = None) -> None:
        at = at or self.now()
        with self._lock:
            if at > self._seen.get(location, datetime.min):
                self._seen[location] = at
        self.check_locations()

    def _alive(self) -> None:
        """The scheduler's tick: the server's own location is alive while it runs."""
        self.heartbeat(self.settings.location)

    def locations(self) -> list[dict[str, Any]]:
        """Each location: last seen, and ``up``, ``down`` (silent longer than
        ``dead_after_seconds``) or ``unknown`` (never reported)."""
        now = self.now()
        limit = timedelta(seconds=self.settings.dead_after_seconds)
        with self._lock:
            seen = dict(self._seen)
        out = []
        for location in self.settings.locations:
            last = seen.get(location)
            status = "unknown" if last is None else ("up" if now - last <= limit else "down")
            out.append({"location": location, "status": status, "last_seen": last,
                        "primary": location == self.settings.location})
        return out

    def check_locations(self) -> None:
        """Export location_up; log a location going silent or coming back."""
        for loc in self.locations():
            if loc["status"] == "unknown":
                continue
            up = loc["status"] == "up"
            self.metrics.location_up.labels(loc["location"]).set(float(up))
            with self._lock:
                before = self._location_up.get(loc["location"])
                self._location_up[loc["location"]] = up
            if before is not None and before != up:
                (log.info if up else log.warning)(
                    "synthetic_location", location=loc["location"], status=loc["status"])

    # ---- views for the API and the status page ----

    def journey_states(self, journey: str) -> dict[str, Status]:
        return self.tracker.of_journey(journey)

    def overall_state(self, journey: str) -> State | None:
        return worst([s.state for s in self.tracker.of_journey(journey).values()])
