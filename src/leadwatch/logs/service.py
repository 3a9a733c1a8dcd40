"""The log pipeline inside a running leadwatch: its write buffer, pipeline and the
background services (tailing of ``logs.sources``, the purge); the Runtime starts
and closes the buffer with the others.

The Runtime builds one :class:`LogsRuntime` and appends its ``services``; the HTTP
routes use ``pipeline`` (and subscribers register on it: ``runtime.logs.pipeline``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leadwatch.logs.pipeline import Pipeline, PipelineMetrics
from leadwatch.logs.retention import PurgeService
from leadwatch.logs.sinks import build_sinks, ndjson_dir
from leadwatch.logs.tail import Followed, Tailer, TailService, offset_store
from leadwatch.settings import ConfigError
from leadwatch.store.schema import LOGS

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime, Service


class LogsRuntime:
    def __init__(self, runtime: Runtime):
        settings = runtime.settings
        self.buffer = runtime.write_buffer(LOGS)
        metrics = PipelineMetrics(runtime.metrics.registry)
        sinks = build_sinks(
            settings, self.buffer.add, metrics.rejected.labels("elasticsearch").inc
        )
        self.pipeline = Pipeline(settings, sinks, metrics, runtime.security_log, geo=runtime.geo)
        ndjson = (ndjson_dir(settings), settings.logs.index_prefix) if "ndjson" in settings.logs.sinks else None
        self.services: list[Service] = [
            PurgeService(
                runtime.events,
                settings.logs.retention_days,
                settings.logs.purge_interval_seconds,
                ndjson,
            ),
        ]
        if settings.logs.sources:
            self.services.append(TailService(self._tailer(runtime)))

    def _tailer(self, runtime: Runtime) -> Tailer:
        settings = runtime.settings
        unknown = [
            f"logs.sources[{i}].site: unknown site {s.site!r}"
            for i, s in enumerate(settings.logs.sources)
            if s.site not in runtime.site_ids
        ]
        if unknown:
            raise ConfigError(unknown)
        files = [Followed(s.path, s.site, s.format) for s in settings.logs.sources]
        return Tailer(
            self.pipeline,
            files,
            offset_store(settings.storage.data_dir),
            batch_lines=settings.logs.batch_lines,
            poll_interval=settings.logs.poll_interval_seconds,
        )
