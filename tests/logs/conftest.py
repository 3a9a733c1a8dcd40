"""Fixtures of the log pipeline tests: a pipeline writing straight into a store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from leadwatch.enrich.geo import GeoLookup
from leadwatch.logs.pipeline import Pipeline, PipelineMetrics
from leadwatch.logs.sinks import EventStoreSink, Sink
from leadwatch.metrics import Metrics
from leadwatch.security.events import SecurityLog
from leadwatch.settings import Settings
from leadwatch.store.events import EventStore
from leadwatch.store.schema import EVENTS, LOGS

REAL_LOG = Path(__file__).resolve().parent.parent / "data" / "access-logs" / "apache_logs"


@pytest.fixture
def make_pipeline(settings: Settings, store: EventStore) -> Iterator[Callable[..., Pipeline]]:
    made: list[Pipeline] = []

    def make(*extra: Sink) -> Pipeline:
        metrics = Metrics()
        pipeline = Pipeline(
            settings,
            [EventStoreSink(partial(store.write_batch, LOGS)), *extra],
            PipelineMetrics(metrics.registry),
            SecurityLog(partial(store.write_batch, EVENTS), metrics.registry),
            geo=GeoLookup(settings.collect.geo_databases),
        )
        pipeline.registry = metrics.registry  # type: ignore[attr-defined]
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        pipeline.close()
        pipeline.geo.close()
