"""The retention job: every ``privacy.retention_interval_seconds`` the server
anonymises leads older than ``privacy.lead_retention_days`` (a Runtime service, like
the log purge). It does nothing while the setting is off."""

from __future__ import annotations

import threading

import structlog

from leadwatch.privacy.service import Privacy

log = structlog.get_logger(__name__)


class RetentionService:
    name = "privacy-retention"

    def __init__(self, privacy: Privacy, interval: float):
        self.privacy = privacy
        self.interval = interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> None:
        done = self.privacy.apply_retention()
        if done.request_id is not None:
            log.info("privacy_retention_applied", request_id=done.request_id, **done.counts)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the store may be down for a while; try again next time
                log.exception("privacy_retention_failed")
            self._stop.wait(self.interval)

    def start(self) -> None:
        if self.privacy.settings.lead_retention_days is None:
            return  # off: no thread at all
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
