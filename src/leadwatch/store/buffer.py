"""The write buffer between ingestion and the EventStore.

Accepted rows wait here until a flush writes them as one batch: when
``batch_size`` rows are waiting, when the oldest has waited ``flush_interval``,
and at shutdown. A failed write is retried with backoff while new rows keep
queueing (bounded by ``max_rows``: past it, ``add`` raises :class:`BufferFull`
and the caller refuses the data instead of acknowledging it). Rows that still
cannot be written at shutdown are spilled to a JSON-lines file under the data
dir and replayed at the next start, so an acknowledged row is never dropped.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import structlog

from leadwatch.background import ThreadedService
from leadwatch.metrics import Metrics
from leadwatch.store.events import EventStore
from leadwatch.store.files import write_atomic
from leadwatch.store.schema import Table

log = structlog.get_logger(__name__)

RETRY_DELAYS = (0.05, 0.2, 1.0, 2.0, 5.0)  # seconds; the last one repeats
CLOSE_ATTEMPTS = 3


class BufferFull(Exception):
    """The buffer holds ``max_rows`` rows already; the caller must not acknowledge."""


class WriteBuffer(ThreadedService):
    """Also a service: ``start()`` runs the flusher on its own thread; ``close()``,
    started or not, writes what is still waiting."""

    def __init__(
        self,
        store: EventStore,
        table: Table,
        metrics: Metrics,
        *,
        spill_dir: Path,
        flush_interval: float = 1.0,
        batch_size: int = 5000,
        max_rows: int = 500_000,
    ):
        super().__init__()
        self.name = f"flush-{table.name}"
        self.store = store
        self.table = table
        self.spill_dir = spill_dir
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.max_rows = max_rows
        self._pending: list[tuple[Any, ...]] = []
        self._in_flight = 0
        # Guards the pending rows; the flusher and a retry's backoff wait on it, and
        # close() (the stop event set) notifies it.
        self._cond = threading.Condition()
        self._written = metrics.events_written.labels(table.name)
        self._retries = metrics.events_write_retries.labels(table.name)
        self._failures = metrics.events_write_failures.labels(table.name)
        self._depth = metrics.write_buffer_depth.labels(table.name)
        self._flush_time = metrics.flush_duration.labels(table.name)

    @property
    def depth(self) -> int:
        """Rows accepted and not yet committed."""
        with self._cond:
            return len(self._pending) + self._in_flight

    def add(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Accept ``rows`` for writing, or raise BufferFull and accept none of them."""
        with self._cond:
            if self._stop.is_set():
                raise BufferFull("the buffer is shutting down")
            if len(self._pending) + self._in_flight + len(rows) > self.max_rows:
                raise BufferFull(f"{self.table.name} buffer holds {self.max_rows} rows")
            self._pending.extend(rows)
            self._depth.set(len(self._pending) + self._in_flight)
            if len(self._pending) >= self.batch_size:
                self._cond.notify()

    def start(self) -> None:
        self.replay_spilled()
        super().start()

    def wake(self) -> None:
        with self._cond:
            self._cond.notify()

    def close(self) -> None:
        """Write everything still waiting; spill what cannot be written. Idempotent."""
        flusher = self._thread is not None
        super().close()
        if not flusher:  # else the flusher drained before it ended
            self._drain()

    def flush(self) -> None:
        """Write what is pending now, in the caller's thread (for CLIs and tests)."""
        while True:
            batch = self._take()
            if not batch:
                return
            self._write(batch, attempts=None)

    def run(self) -> None:
        while True:
            with self._cond:
                deadline = time.monotonic() + self.flush_interval
                while (
                    not self._stop.is_set()
                    and len(self._pending) < self.batch_size
                    and (remaining := deadline - time.monotonic()) > 0
                ):
                    self._cond.wait(remaining)
                if self._stop.is_set():
                    break
            batch = self._take()
            if batch:
                self._write(batch, attempts=None)
        self._drain()

    def _drain(self) -> None:
        while batch := self._take():
            self._write(batch, attempts=CLOSE_ATTEMPTS)

    def _take(self) -> list[tuple[Any, ...]]:
        with self._cond:
            batch, self._pending = self._pending, []
            self._in_flight += len(batch)
            return batch

    def _write(self, batch: list[tuple[Any, ...]], attempts: int | None) -> None:
        """Write ``batch``, retrying; ``attempts=None`` retries until it succeeds or the
        buffer closes, after which a bounded number of attempts precede a spill."""
        attempt = 0
        while True:
            started = time.perf_counter()
            try:
                self.store.write_batch(self.table, batch)
            except Exception as exc:
                attempt += 1
                self._retries.inc()
                log.warning(
                    "event_write_failed",
                    table=self.table.name,
                    rows=len(batch),
                    attempt=attempt,
                    error=str(exc),
                )
                if attempts is None and self._stop.is_set():
                    attempts, attempt = CLOSE_ATTEMPTS, 1
                if attempts is not None and attempt >= attempts:
                    self._spill(batch)
                    break
                self._sleep(RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1])
            else:
                self._flush_time.observe(time.perf_counter() - started)
                self._written.inc(len(batch))
                break
        with self._cond:
            self._in_flight -= len(batch)
            self._depth.set(len(self._pending) + self._in_flight)

    def _sleep(self, seconds: float) -> None:
        # A close() wakes the sleeper so shutdown does not wait out a long backoff.
        with self._cond:
            if not self._stop.is_set():
                self._cond.wait(seconds)
                return
        time.sleep(min(seconds, 0.2))

    def _spill(self, batch: list[tuple[Any, ...]]) -> None:
        path = self.spill_dir / f"{self.table.name}-{time.time_ns()}.jsonl"
        names = self.table.column_names
        # Only complete files carry the name replay looks for.
        write_atomic(path, b"".join(orjson.dumps(dict(zip(names, row, strict=True))) + b"\n" for row in batch))
        self._failures.inc(len(batch))
        log.error("events_spilled", table=self.table.name, rows=len(batch), path=str(path))

    def replay_spilled(self) -> None:
        """Write the rows earlier runs spilled; a file is deleted once its rows are stored."""
        if not self.spill_dir.is_dir():
            return
        kinds = [(c.name, c.kind) for c in self.table.columns]
        for path in sorted(self.spill_dir.glob(f"{self.table.name}-*.jsonl")):
            rows = []
            for line in path.read_bytes().splitlines():
                record = orjson.loads(line)
                rows.append(tuple(_decode(record.get(name), kind) for name, kind in kinds))
            try:
                self.store.write_batch(self.table, rows)
            except Exception as exc:
                log.error("spill_replay_failed", path=str(path), error=str(exc))
                return
            path.unlink()
            self._written.inc(len(rows))
            log.info("spill_replayed", path=str(path), rows=len(rows))


def _decode(value: Any, kind: str) -> Any:
    if value is not None and kind == "timestamp":
        return datetime.fromisoformat(value)
    return value
