"""A pipeline writing straight into the stores, for ``leadwatch logs ingest`` and the
benchmark: each batch is committed before ``process`` returns, so a followed file's
offset is only ever saved past stored lines."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import partial

from prometheus_client import CollectorRegistry

from leadwatch.enrich.geo import GeoLookup
from leadwatch.logs.pipeline import Pipeline, PipelineMetrics
from leadwatch.logs.sinks import build_sinks
from leadwatch.security.events import SecurityLog
from leadwatch.settings import Settings
from leadwatch.store.events import open_event_store
from leadwatch.store.schema import EVENTS, LOGS


@contextmanager
def direct_pipeline(settings: Settings) -> Iterator[Pipeline]:
    """Raises when the event store cannot be opened (in standalone mode: a running
    server holds the DuckDB file)."""
    store = open_event_store(settings)
    try:
        store.migrate()
        registry = CollectorRegistry()  # counted into, never scraped (no server here)
        pipeline_metrics = PipelineMetrics(registry)
        sinks = build_sinks(
            settings,
            partial(store.write_batch, LOGS),
            pipeline_metrics.rejected.labels("elasticsearch").inc,
        )
        with closing(GeoLookup(settings.collect.geo_databases)) as geo:
            security_log = SecurityLog(partial(store.write_batch, EVENTS), registry,
                                       country_of=lambda ip: geo.lookup(ip).country)
            pipeline = Pipeline(settings, sinks, pipeline_metrics, security_log, geo=geo)
            try:
                yield pipeline
            finally:
                pipeline.close()
    finally:
        store.close()
