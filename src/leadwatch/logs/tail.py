"""Following files into the pipeline: the loop the CLI's ``--follow`` runs in its own
thread and the server runs as a Service for ``logs.sources``.

Each round reads what every followed file gained, writes it through the pipeline
and only then commits the files' offsets; a batch a sink refuses is read again in
the next round (nothing is skipped), after a pause that grows while it fails.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import structlog

from leadwatch.background import ThreadedService
from leadwatch.logs.parse import Format
from leadwatch.logs.pipeline import BatchResult, LineWriter
from leadwatch.logs.sources import Follower, OffsetStore

log = structlog.get_logger(__name__)

MAX_BACKOFF = 30.0


@dataclass(frozen=True)
class Followed:
    path: Path
    site_id: str
    fmt: Format


def offset_store(data_dir: Path) -> OffsetStore:
    return OffsetStore(data_dir / "logs" / "offsets")


class Tailer:
    def __init__(
        self,
        pipeline: LineWriter,
        files: list[Followed],
        offsets: OffsetStore,
        *,
        batch_lines: int = 2000,
        poll_interval: float = 1.0,
    ):
        self.pipeline = pipeline
        self.poll_interval = poll_interval
        self._followers = [
            (f, Follower(f.path, offsets, max_lines=batch_lines)) for f in files
        ]
        self.total = BatchResult()

    def run_once(self) -> int:
        """One round over every file; the number of lines written (sinks may raise)."""
        written = 0
        for spec, follower in self._followers:
            while lines := follower.read():
                try:
                    result = self.pipeline.process(lines, site_id=spec.site_id, fmt=spec.fmt)
                except BaseException:
                    # Not committed: reopen at the committed offset and read them again.
                    follower.close()
                    raise
                follower.commit()
                self.total.add(result)
                written += len(lines)
        return written

    def run(self, stop: threading.Event) -> None:
        """Follow until ``stop`` is set; every line read by then is written and committed."""
        backoff = self.poll_interval
        while not stop.is_set():
            try:
                busy = self.run_once() > 0
                backoff = self.poll_interval
            except Exception as exc:
                log.warning("log_tail_write_failed", error=str(exc), retry_in=backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            if not busy:
                stop.wait(self.poll_interval)

    def close(self) -> None:
        for _, follower in self._followers:
            follower.close()


class TailService(ThreadedService):
    """The server's tailing of ``logs.sources``, as a Runtime service (one thread)."""

    name = "logs-tail"

    def __init__(self, tailer: Tailer):
        super().__init__()
        self.tailer = tailer

    def run(self) -> None:
        self.tailer.run(self._stop)

    def close(self) -> None:
        super().close()  # the lines read by then are written and committed
        self.tailer.close()
