"""The retention job: every ``privacy.retention_interval_seconds`` the server
anonymises leads older than ``privacy.lead_retention_days`` (a Runtime service, like
the log purge). It does nothing while the setting is off."""

from __future__ import annotations

import structlog

from leadwatch.background import PeriodicService
from leadwatch.privacy.service import Privacy

log = structlog.get_logger(__name__)


class RetentionService(PeriodicService):
    name = "privacy-retention"
    run_first = True
    failure_event = "privacy_retention_failed"  # the store may be down; the next round retries

    def __init__(self, privacy: Privacy, interval: float):
        super().__init__()
        self.privacy = privacy
        self.interval = interval

    def run_once(self) -> None:
        done = self.privacy.apply_retention()
        if done.request_id is not None:
            log.info("privacy_retention_applied", request_id=done.request_id, **done.counts)

    def tick(self) -> None:
        self.run_once()

    def start(self) -> None:
        if self.privacy.settings.lead_retention_days is None:
            return  # off: no thread at all
        super().start()
