"""A remote probe (``leadwatch probe``): runs the server's journeys from another
location and pushes each result to the server with an ingest token.

Every ``refresh`` seconds the probe fetches its journeys (which also tells the server
it is alive: the dead-man switch), with the variables and a fresh synthetic-lead
marker. Results that cannot be pushed wait in a bounded backlog and are retried.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any

import httpx
import structlog

from leadwatch.synthetic.browser import BrowserPool
from leadwatch.synthetic.journey import Journey
from leadwatch.synthetic.results import RunResult
from leadwatch.synthetic.runner import run_journey
from leadwatch.synthetic.scheduler import Scheduler

log = structlog.get_logger(__name__)

BACKLOG = 1000


class ProbeRefused(Exception):
    """The server refuses this probe (bad token, unknown location): retrying won't help."""


class RemoteProbe:
    def __init__(self, server: str, token: str, location: str, *, browsers: BrowserPool,
                 refresh: float = 60.0, workers: int = 4, jitter: float = 0.1,
                 timeout: float = 30.0):
        self.location = location
        self.refresh = refresh
        self.browsers = browsers
        self.workers = workers
        self.jitter = jitter
        self.http = httpx.Client(base_url=server.rstrip("/"), timeout=timeout,
                                 headers={"Authorization": f"Bearer {token}"})
        self.variables: dict[str, str] = {}
        self._marker: tuple[str, str] | None = None
        self._backlog: deque[RunResult] = deque(maxlen=BACKLOG)
        self._lock = threading.Lock()

    def fetch(self) -> list[Journey]:
        """This location's journeys; also the probe's heartbeat."""
        response = self.http.get("/api/v1/synthetic/probe", params={"location": self.location})
        if response.status_code in (401, 403, 422):
            raise ProbeRefused(_error_text(response))
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        self.variables = data["variables"]
        self._marker = (data["marker_id"], data["marker"])
        return [Journey.model_validate(j) for j in data["journeys"]]

    def run(self, journey: Journey) -> RunResult:
        marker = self._marker
        result = run_journey(
            journey,
            location=self.location,
            variables=self.variables,
            browsers=self.browsers,
            marker=(lambda _run_id: marker) if marker else None,
        )
        self.push(result)
        return result

    def push(self, result: RunResult | None = None) -> None:
        """Send ``result`` and whatever waits in the backlog, oldest first."""
        with self._lock:
            if result is not None:
                self._backlog.append(result)
            while self._backlog:
                pending = self._backlog[0]
                try:
                    response = self.http.post("/api/v1/synthetic/results",
                                              content=pending.model_dump_json(),
                                              headers={"Content-Type": "application/json"})
                except httpx.HTTPError as exc:
                    log.warning("probe_push_failed", error=str(exc), waiting=len(self._backlog))
                    return
                if response.status_code >= 500 or response.status_code == 429:
                    log.warning("probe_push_deferred", status=response.status_code,
                                waiting=len(self._backlog))
                    return
                if response.status_code >= 400:  # refused for good: retrying cannot help
                    log.error("probe_push_refused", journey=pending.journey,
                              error=_error_text(response))
                self._backlog.popleft()

    def serve(self, stop: threading.Event) -> None:
        """Run until ``stop`` is set; refetch the journeys every ``refresh`` seconds."""
        journeys = self.fetch()
        log.info("probe_started", location=self.location, journeys=[j.name for j in journeys])
        scheduler = Scheduler(journeys, self.run, workers=self.workers, jitter=self.jitter,
                              name="probe-scheduler")
        scheduler.start()
        try:
            while not stop.wait(self.refresh):
                try:
                    scheduler.replace(self.fetch())
                except httpx.HTTPError as exc:
                    log.warning("probe_fetch_failed", error=str(exc))
                self.push()
        finally:
            scheduler.close()
            self.push()
            self.http.close()


def _error_text(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        fields = "; ".join(f"{k}: {v}" for k, v in error.get("fields", {}).items())
        return str(error["message"]) + (f" ({fields})" if fields else "")
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"
