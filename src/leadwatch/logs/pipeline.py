"""The pipeline: lines in, records out to every sink, as named, timed steps.

parse → enrich (route, channel, threats) → route to datasets (an attack seen in
``access`` is copied to ``security`` and recorded in the security log) → write to
every sink → tell subscribers. A line that does not parse becomes a ``dead-letter``
record with its reason; every line is counted under exactly one outcome.

Subscribers (``pipeline.subscribe(callback)``) receive each parsed ``access`` record
and when leadwatch received it, after the sinks took it: the security engineer's rate
detectors (failed logins per IP, requests per IP) plug in there. A failing subscriber
is logged, never allowed to lose or block data.

``received_at`` is when leadwatch received the lines: now, unless an in-process caller
replays history as if it had been received back then (the demo's backfill, tests; the
HTTP ingest never lets a shipper say so). Security events of a line are detected then,
never before the line's own time, so the time to detect of a line read late is honest.
"""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

from leadwatch.enrich.geo import GeoLookup
from leadwatch.heap import collector_paused
from leadwatch.logs.enrich import Enricher
from leadwatch.logs.parse import FORMATS, REASONS, Format, ParseError, parser_for
from leadwatch.logs.record import ACCESS, DEAD_LETTER, MAX_ORIGINAL, SECURITY, LogRecord
from leadwatch.logs.sinks import Sink
from leadwatch.security.events import Action, SecurityEvent, SecurityLog, detection_time
from leadwatch.settings import Settings
from leadwatch.store.schema import utc_naive, utcnow

log = structlog.get_logger(__name__)

Subscriber = Callable[[LogRecord, datetime], None]  # (record, received_at: naive UTC)
MAX_LINE = 65_536  # characters; longer lines are dead letters (reason too_long)
STEP_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass
class BatchResult:
    lines: int = 0
    dead_letters: int = 0
    datasets: Tally[str] = field(default_factory=Tally)  # records written, per dataset

    def add(self, other: BatchResult) -> None:
        self.lines += other.lines
        self.dead_letters += other.dead_letters
        self.datasets.update(other.datasets)


class LineWriter(Protocol):
    """Takes lines and returns once they are written: the :class:`Pipeline`, or the
    HTTP shipper that sends them to a running server (logs/ship.py). Lines written
    this way are received now: only an in-process caller of ``Pipeline.process`` may
    say they were received in the past."""

    def process(self, lines: Sequence[str], *, site_id: str, fmt: Format = "auto") -> BatchResult: ...


class PipelineMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.lines = Counter(
            "leadwatch_log_lines_total",
            "Log lines read, by the dataset they went to and the outcome (parsed, dead_letter).",
            ["dataset", "outcome"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "leadwatch_log_dead_letters_total",
            "Log lines that could not be parsed, by reason.",
            ["reason"],
            registry=registry,
        )
        self.step = Histogram(
            "leadwatch_log_step_duration_seconds",
            "Time one batch spends in each pipeline step.",
            ["step"],
            buckets=STEP_BUCKETS,
            registry=registry,
        )
        self.rejected = Counter(
            "leadwatch_log_sink_rejected_total",
            "Records a sink refused for good (e.g. an Elasticsearch mapping conflict).",
            ["sink"],
            registry=registry,
        )
        for reason in (*REASONS, "too_long"):
            self.dead_letters.labels(reason)


class Pipeline:
    def __init__(
        self,
        settings: Settings,
        sinks: Sequence[Sink],
        metrics: PipelineMetrics,
        security_log: SecurityLog | None = None,
        *,
        geo: GeoLookup,
    ):
        self.sinks = list(sinks)
        self.metrics = metrics
        self.security_log = security_log
        self.parsers = {f: parser_for(f, settings.logs.business_events) for f in FORMATS}
        self.geo = geo  # its owner closes it
        self.enricher = Enricher({s.id: s.domain for s in settings.sites}, geo)
        self._subscribers: list[Subscriber] = []
        self._steps = {name: metrics.step.labels(name) for name in ("parse", "enrich", "write")}

    def subscribe(self, callback: Subscriber) -> None:
        """Call ``callback(record, received_at)`` with every parsed access record, after
        it is written."""
        self._subscribers.append(callback)

    def process(
        self, lines: Sequence[str], *, site_id: str, fmt: Format = "auto",
        received_at: datetime | None = None,
    ) -> BatchResult:
        """Parse, enrich and write ``lines``, received at ``received_at`` (default now);
        return when every sink has taken them.

        Raises when a sink fails: then none of these lines count as ingested, and the
        caller must not advance past them (they are sent again)."""
        received = utc_naive(received_at) if received_at is not None else utcnow()
        with collector_paused:
            return self._process(lines, site_id, fmt, received)

    def _process(self, lines: Sequence[str], site_id: str, fmt: Format, received_at: datetime) -> BatchResult:
        result = BatchResult(lines=len(lines))
        started = time.perf_counter()
        records, dead = self._parse(lines, site_id, fmt, received_at)
        parsed_at = time.perf_counter()
        self._steps["parse"].observe(parsed_at - started)

        self.enricher.enrich_all(records)
        security = [r.copy_to(SECURITY) for r in records if r.threats]
        enriched_at = time.perf_counter()
        self._steps["enrich"].observe(enriched_at - parsed_at)

        out = records + security + dead
        for sink in self.sinks:
            sink.write_batch(out)
        if security and self.security_log is not None:
            self.security_log.record(*_security_events(security, received_at))
        self._steps["write"].observe(time.perf_counter() - enriched_at)

        parsed = Tally(r.dataset for r in records)
        for dataset, n in parsed.items():
            self.metrics.lines.labels(dataset, "parsed").inc(n)
        if dead:
            self.metrics.lines.labels(DEAD_LETTER, "dead_letter").inc(len(dead))
        # Every record of ``out``, counted without a second pass over the parsed ones.
        result.datasets.update(parsed)
        if security:
            result.datasets[SECURITY] += len(security)
        if dead:
            result.datasets[DEAD_LETTER] += len(dead)
        result.dead_letters = len(dead)
        if self._subscribers:
            self._notify([r for r in records if r.dataset == ACCESS], received_at)
        return result

    def _parse(
        self, lines: Sequence[str], site_id: str, fmt: Format, received_at: datetime
    ) -> tuple[list[LogRecord], list[LogRecord]]:
        parse = self.parsers[fmt]
        records: list[LogRecord] = []
        dead: list[LogRecord] = []
        for line in lines:
            try:
                if len(line) > MAX_LINE:
                    raise ParseError("too_long", f"{len(line)} characters")
                records.append(parse(line, site_id))
            except ParseError as exc:
                self.metrics.dead_letters.labels(exc.reason).inc()
                dead.append(
                    LogRecord(
                        dataset=DEAD_LETTER,
                        ts=received_at,  # a line with no time of its own: when it came
                        site_id=site_id,
                        original=line[:MAX_ORIGINAL],
                        message=line[:MAX_ORIGINAL],
                        error=str(exc)[:500],
                        labels={"reason": exc.reason, "format": fmt},
                    )
                )
        return records, dead

    def _notify(self, records: list[LogRecord], received_at: datetime) -> None:
        for callback in self._subscribers:
            for record in records:
                try:
                    callback(record, received_at)
                except Exception:
                    log.exception("log_subscriber_failed", subscriber=repr(callback))
                    break

    def close(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception:
                log.exception("log_sink_close_failed", sink=sink.name)


def _security_events(records: list[LogRecord], received_at: datetime) -> list[SecurityEvent]:
    """The findings of ``records``: seen at the line's time, detected when it was received."""
    return [
        SecurityEvent(
            site_id=r.site_id,
            threat=t.threat,
            action=Action.LOGGED,
            source="logs",
            ip=r.source_ip,
            field=t.field,
            rule=t.rule,
            evidence=t.evidence,
            path=r.path,
            ts=r.ts,
            detected_at=detection_time(r.ts, received_at),
        )
        for r in records
        for t in r.threats
    ]
