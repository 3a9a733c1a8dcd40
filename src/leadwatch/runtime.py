"""The Runtime: the stores, buffers and background services one leadwatch process runs.

The app's lifespan opens it and closes it; CLI commands open it too. Closing
flushes every buffer, so a graceful stop (SIGTERM) loses nothing acknowledged.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from leadwatch.metrics import Metrics
from leadwatch.security.events import SecurityLog
from leadwatch.settings import Settings
from leadwatch.store.buffer import WriteBuffer
from leadwatch.store.events import EventStore, open_event_store
from leadwatch.store.migrate import head_revisions, migrate, records_revisions
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import EVENTS

log = structlog.get_logger(__name__)


class NotMigrated(RuntimeError):
    pass


class Service(Protocol):
    """A background part of the process (a scheduler, an evaluator, an outbox worker).

    ``start`` must return quickly (run loops in a thread); ``close`` stops the loop
    and finishes or persists in-flight work. Services start after the write buffer
    and close before it, so whatever they emit while closing is still written."""

    name: str

    def start(self) -> None: ...

    def close(self) -> None: ...


class Runtime:
    def __init__(self, settings: Settings, metrics: Metrics | None = None):
        self.settings = settings
        self.metrics = metrics or Metrics()
        self.records = RecordStore.open(settings)
        try:
            self.events: EventStore = open_event_store(settings, self.records.engine)
        except BaseException:
            self.records.close()
            raise
        storage = settings.storage
        self.event_buffer = WriteBuffer(
            self.events,
            EVENTS,
            self.metrics,
            spill_dir=storage.data_dir / "spill",
            flush_interval=storage.flush_interval_seconds,
            batch_size=storage.flush_batch_size,
            max_rows=storage.buffer_max_events,
        )
        self.security_log = SecurityLog(self.event_buffer.add, self.metrics.registry)
        self.site_ids = frozenset(s.id for s in settings.sites)
        # The key that signs tokens, cookies and links; set by start().
        self.secret_key = b""
        # Capabilities add their background services here, in start order.
        self.services: list[Service] = []
        self._started = False

    def migrate(self) -> None:
        migrate(self.records.engine, self.events)
        self.records.sync_sites(self.settings.sites)

    def start(self) -> None:
        """Migrate when allowed (else refuse an outdated schema) and start services."""
        if self.settings.storage.auto_migrate:
            self.migrate()
        elif records_revisions(self.records.engine) != head_revisions():
            raise NotMigrated("the record store is not at the current schema: run leadwatch migrate")
        else:
            self.records.sync_sites(self.settings.sites)
        configured = self.settings.auth.secret_key
        self.secret_key = (
            configured.get_secret_value().encode()
            if configured
            else self.records.instance_secret("signing_key")
        )
        self.event_buffer.start()
        self._started = True
        for service in self.services:
            service.start()
        log.info(
            "runtime_started",
            records=self.records.backend,
            events=self.events.dialect.name,
            data_dir=str(self.settings.storage.data_dir),
        )

    def readiness(self) -> dict[str, str]:
        """``ok`` or the error, per store; ready only when every value is ``ok``."""
        checks: dict[str, str] = {}
        for name, store in (("records", self.records), ("events", self.events)):
            try:
                store.ping()
            except Exception as exc:  # any failure means not ready; say which
                checks[name] = f"error: {type(exc).__name__}: {exc}"[:300]
            else:
                checks[name] = "ok"
        return checks

    def close(self) -> None:
        if self._started:
            for service in reversed(self.services):
                try:
                    service.close()
                except Exception:  # one failing service must not stop the flush below
                    log.exception("service_close_failed", service=service.name)
            self.event_buffer.close()
            self._started = False
        self.events.close()
        self.records.close()
        log.info("runtime_stopped")

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
