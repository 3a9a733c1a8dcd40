"""The Runtime: the stores, buffers and background services one leadwatch process runs.

The app's lifespan opens it and closes it; CLI commands open it too. Closing
flushes every buffer, so a graceful stop (SIGTERM) loses nothing acknowledged.
"""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from leadwatch.alerting.evaluator import Evaluator
from leadwatch.dashboards.sampler import MetricsHistory
from leadwatch.enrich import useragent
from leadwatch.enrich.geo import GeoLookup
from leadwatch.collect.pipeline import Collector
from leadwatch.collect.salts import SaltRotation
from leadwatch.marketing.conversion import ConversionCollector
from leadwatch.leads.intake import LeadIntake
from leadwatch.logs.service import LogsRuntime
from leadwatch.metrics import Metrics
from leadwatch.notify.outbox import Outbox, OutboxWorker
from leadwatch.privacy.retention import RetentionService
from leadwatch.privacy.service import Privacy
from leadwatch.security.events import SecurityLog
from leadwatch.security.service import SecurityRuntime
from leadwatch.settings import Settings
from leadwatch.store.buffer import WriteBuffer
from leadwatch.store.events import EventStore, open_event_store
from leadwatch.store.migrate import head_revisions, migrate, records_revisions
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import EVENTS, Table
from leadwatch.store.snapshots import SnapshotService, Snapshotted
from leadwatch.synthetic.monitor import SyntheticMonitor

log = structlog.get_logger(__name__)


class NotMigrated(RuntimeError):
    pass


class Service(Protocol):
    """A background part of the process (a scheduler, an evaluator, an outbox worker).

    ``start`` must return quickly (run loops in a thread); ``close`` stops the loop
    and finishes or persists in-flight work. Services start after the write buffer
    and close before it, so whatever they emit while closing is still written.
    A service that loops on a thread builds on :mod:`leadwatch.background`."""

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
        # Every event table's write buffer; started before the services and closed
        # after them, so whatever a service emits while it stops is still written.
        self.buffers: list[WriteBuffer] = []
        self.event_buffer = self.write_buffer(EVENTS)
        # Geolocation for /collect, the log pipeline and security events alike: one
        # cache (the same visitors show in all), one set of open .mmdb files.
        self.geo = GeoLookup(settings.collect.geo_databases)
        self.security_log = SecurityLog(self.event_buffer.add, self.metrics.registry,
                                        country_of=lambda ip: self.geo.lookup(ip).country)
        self.site_ids = frozenset(s.id for s in settings.sites)
        # The key that signs tokens, cookies and links; set by start().
        self.secret_key = b""
        # Capabilities add their background services here, in start order.
        self.services: list[Service] = []
        # logs: the log pipeline, its write buffer, tailing of logs.sources and the purge.
        self.logs = LogsRuntime(self)
        self.services += self.logs.services
        # security: shared bans, the guard (middleware, login, log subscriber), incidents.
        self.security = SecurityRuntime(self)
        self.guard = self.security.guard
        self.services += self.security.services
        # collect: the /collect ingest pipeline; its daily visitor salts rotate in a service.
        self.collector = Collector.for_runtime(self)
        self.services.append(SaltRotation(self.collector.salts))
        self.metrics.registry.register(ConversionCollector(self))
        # notify: the persisted outbox (leads and alerts enqueue) and its delivery worker.
        self.outbox = Outbox.for_runtime(self)
        self.services.append(OutboxWorker(self.outbox))
        # leads: the lead intake pipeline behind POST /api/leads.
        self.leads = LeadIntake.for_runtime(self)
        # privacy: data-subject requests, and the retention job anonymising old leads.
        self.privacy = Privacy.for_runtime(self)
        self.services.append(RetentionService(self.privacy, settings.privacy.retention_interval_seconds))
        ui = settings.dashboards
        self.metrics_history = MetricsHistory(
            self.metrics.registry, storage.data_dir,
            interval=ui.sample_interval_seconds, history_seconds=ui.history_hours * 3600,
        )
        self.services.append(self.metrics_history)
        # synthetic: journeys, their scheduler and results, locations' dead-man switch.
        self.synthetic = SyntheticMonitor(self)
        self.services.append(self.synthetic)
        self.synthetic.cleanups.append(lambda _marker: self.leads.delete_synthetic())
        # alerting: the catalogue's evaluator, incidents and escalation (through the outbox).
        self.alerting = Evaluator.for_runtime(self)
        self.services.append(self.alerting)
        # Standalone: both metric histories (and the alert states) outlive a restart. First
        # in start order, they load before any sampler's first sample; last in close order, they save
        # after the samplers stopped. Only a process owning its data dir keeps them
        # (DuckDB's file lock admits one); stack-mode replicas are stateless, and
        # Prometheus holds their history.
        if not storage.uses_postgres:
            parts: dict[str, Snapshotted] = {"dashboards": self.metrics_history}
            if settings.alerting.embedded_evaluator:  # else its history and states stay empty
                parts["alerting"] = self.alerting
            self.services.insert(0, SnapshotService(
                storage.data_dir / "history", parts, interval=storage.history_snapshot_interval_seconds,
            ))
        self._started = False

    def write_buffer(self, table: Table) -> WriteBuffer:
        """A write buffer for one event table, batching as ``storage`` says; the
        runtime starts and closes it."""
        storage = self.settings.storage
        buffer = WriteBuffer(
            self.events,
            table,
            self.metrics,
            spill_dir=storage.data_dir / "spill",
            flush_interval=storage.flush_interval_seconds,
            batch_size=storage.flush_batch_size,
            max_rows=storage.buffer_max_events,
        )
        self.buffers.append(buffer)
        return buffer

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
        # The user-agent parser the collector and the log pipeline share, built now
        # rather than by the first request.
        useragent.warm()
        for buffer in self.buffers:
            buffer.start()
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
            for buffer in self.buffers:
                buffer.close()
            self._started = False
        self.geo.close()
        self.events.close()
        self.records.close()
        log.info("runtime_stopped")

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()
