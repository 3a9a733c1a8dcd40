"""The write buffer: flushes on size, on time and on close; retries; refuses rather
than drops when full; spills what cannot be written and replays it later."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from leadwatch.metrics import Metrics
from leadwatch.store.buffer import BufferFull, WriteBuffer
from leadwatch.store.duckdb_events import DuckDBEventStore
from leadwatch.store.schema import EVENTS, Event, Table

T0 = datetime(2026, 3, 2, 10, 0, 0)


class FlakyStore(DuckDBEventStore):
    """A real DuckDB store whose next ``fail`` writes raise, as a dropped connection would."""

    def __init__(self, path: Path):
        super().__init__(path)
        self.fail = 0
        self.calls = 0
        self.wrote = threading.Event()

    def write_batch(self, table: Table, rows: Sequence[tuple[Any, ...]]) -> None:
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise ConnectionError("store unreachable")
        super().write_batch(table, rows)
        self.wrote.set()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[FlakyStore]:
    s = FlakyStore(tmp_path / "events.duckdb")
    s.migrate()
    yield s
    s.close()


def rows(n: int, start: int = 0) -> list[tuple[Any, ...]]:
    return [Event("default", T0, "pageview", name=str(i)).row() for i in range(start, start + n)]


def buffer(store: FlakyStore, tmp_path: Path, metrics: Metrics | None = None, **kw: Any) -> WriteBuffer:
    options = {"flush_interval": 60.0, "batch_size": 1000, "max_rows": 10_000, **kw}
    return WriteBuffer(store, EVENTS, metrics or Metrics(), spill_dir=tmp_path / "spill", **options)


def stored_names(store: DuckDBEventStore) -> list[str]:
    return sorted(r["name"] for r in store.query("SELECT name FROM events"))


def test_flushes_when_a_batch_is_full(store: FlakyStore, tmp_path: Path) -> None:
    buf = buffer(store, tmp_path, batch_size=100)
    buf.start()
    buf.add(rows(99))
    time.sleep(0.2)
    assert store.count() == 0  # under the batch size, with a long interval: still waiting
    buf.add(rows(1, start=99))
    assert store.wrote.wait(5)
    assert store.count() == 100
    buf.close()


def test_flushes_on_the_timer(store: FlakyStore, tmp_path: Path) -> None:
    buf = buffer(store, tmp_path, flush_interval=0.1)
    buf.start()
    buf.add(rows(5))
    assert store.wrote.wait(5)
    assert store.count() == 5
    buf.close()


def test_close_writes_everything_pending(store: FlakyStore, tmp_path: Path) -> None:
    buf = buffer(store, tmp_path)
    buf.start()
    for i in range(10):
        buf.add(rows(10, start=i * 10))
    buf.close()
    assert store.count() == 100
    assert buf.depth == 0
    with pytest.raises(BufferFull):
        buf.add(rows(1))  # closed: refuse rather than accept and lose


def test_transient_failures_are_retried_without_loss_or_duplicates(store: FlakyStore, tmp_path: Path) -> None:
    metrics = Metrics()
    buf = buffer(store, tmp_path, metrics, flush_interval=0.05)
    store.fail = 3
    buf.start()
    buf.add(rows(50))
    deadline = time.monotonic() + 10
    while store.count() < 50 and time.monotonic() < deadline:
        time.sleep(0.05)
    buf.close()
    assert stored_names(store) == sorted(str(i) for i in range(50))
    registry = metrics.registry
    assert registry.get_sample_value("leadwatch_events_write_retries_total", {"table": "events"}) == 3
    assert registry.get_sample_value("leadwatch_events_written_total", {"table": "events"}) == 50
    assert registry.get_sample_value("leadwatch_write_buffer_depth", {"table": "events"}) == 0


def test_a_full_buffer_refuses_whole_batches(store: FlakyStore, tmp_path: Path) -> None:
    buf = buffer(store, tmp_path, max_rows=1000, batch_size=5000)
    buf.add(rows(990))
    with pytest.raises(BufferFull):
        buf.add(rows(20, start=990))
    assert buf.depth == 990  # nothing of the refused batch was taken
    buf.add(rows(10, start=990))
    buf.close()
    assert store.count() == 1000


def test_unwritable_rows_are_spilled_and_replayed(store: FlakyStore, tmp_path: Path) -> None:
    metrics = Metrics()
    buf = buffer(store, tmp_path, metrics)
    buf.start()
    buf.add(rows(30))
    store.fail = 10**6  # the store is gone for good
    buf.close()
    spilled = list((tmp_path / "spill").glob("events-*.jsonl"))
    assert len(spilled) == 1 and store.count() == 0
    assert metrics.registry.get_sample_value(
        "leadwatch_events_write_failures_total", {"table": "events"}
    ) == 30

    store.fail = 0  # the store is back: the next start writes the spilled rows once
    again = buffer(store, tmp_path)
    again.start()
    again.close()
    assert stored_names(store) == sorted(str(i) for i in range(30))
    assert not list((tmp_path / "spill").iterdir())
    assert store.query("SELECT DISTINCT ts FROM events")[0]["ts"] == T0


def test_flush_writes_in_the_callers_thread(store: FlakyStore, tmp_path: Path) -> None:
    buf = buffer(store, tmp_path)
    buf.add(rows(7))
    buf.flush()
    assert store.count() == 7 and buf.depth == 0
