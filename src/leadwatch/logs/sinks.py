"""Sinks: where parsed records go, each behind one small interface, ``write_batch()``.

``write_batch`` returns once the records are safe by that sink's standard (in the
write buffer, on disk, acknowledged by Elasticsearch) and raises otherwise, so the
caller only advances a file offset past lines every sink has taken. Sinks are
registered by name (``logs.sinks`` lists the ones to use).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import structlog

from leadwatch.logs.record import LogRecord

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

    from leadwatch.settings import Settings

log = structlog.get_logger(__name__)

AddRows = Callable[[Sequence[tuple[Any, ...]]], None]


class SinkError(RuntimeError):
    """The sink could not take the batch; nothing after it may be acknowledged."""


class Sink(Protocol):
    name: str

    def write_batch(self, records: Sequence[LogRecord]) -> None: ...

    def close(self) -> None: ...


def index_name(prefix: str, record: LogRecord) -> str:
    """``reboot-access-2026.05.17``: the daily name shared by files and indices."""
    return f"{prefix}-{record.dataset}-{record.ts:%Y.%m.%d}"


class EventStoreSink:
    """Rows of the ``logs`` table, through the runtime's write buffer (server) or
    straight into the store (the CLI, which must know they are committed)."""

    name = "eventstore"

    def __init__(self, add_rows: AddRows):
        self._add_rows = add_rows

    def write_batch(self, records: Sequence[LogRecord]) -> None:
        self._add_rows([r.row() for r in records])

    def close(self) -> None:
        pass


class NdjsonSink:
    """One file per dataset and day, ``<prefix>-<dataset>-YYYY.MM.DD.ndjson``, one ECS
    document a line, ready for Filebeat. Each batch is flushed and fsynced."""

    name = "ndjson"

    def __init__(self, directory: Path, prefix: str = "reboot"):
        self.directory = directory
        self.prefix = prefix
        self._files: dict[str, IO[bytes]] = {}
        self._lock = threading.Lock()

    def write_batch(self, records: Sequence[LogRecord]) -> None:
        groups: dict[str, list[bytes]] = defaultdict(list)
        for record in records:
            groups[index_name(self.prefix, record)].append(record.json.encode() + b"\n")
        with self._lock:
            touched = []
            for name, lines in groups.items():
                fh = self._file(name)
                fh.write(b"".join(lines))
                touched.append(fh)
            for fh in touched:
                fh.flush()
                os.fsync(fh.fileno())

    def _file(self, name: str) -> IO[bytes]:
        fh = self._files.get(name)
        if fh is None:
            if len(self._files) >= 64:  # a backfill walks through many days: keep few open
                self._close_files()
            self.directory.mkdir(parents=True, exist_ok=True)
            fh = self._files[name] = (self.directory / f"{name}.ndjson").open("ab")
        return fh

    def _close_files(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()

    def close(self) -> None:
        with self._lock:
            self._close_files()


RETRYABLE = frozenset({429, 502, 503, 504})


class ElasticsearchSink:
    """The Elasticsearch ``_bulk`` API through the official client.

    Each document gets a deterministic ``_id`` (a hash of its content), so a batch
    sent again after a failure or a restart overwrites rather than duplicates.
    Items refused with 429/5xx are retried with backoff; items refused for good (a
    mapping conflict) are logged and counted, since resending cannot fix them."""

    name = "elasticsearch"

    def __init__(
        self,
        client: Elasticsearch,
        prefix: str = "reboot",
        *,
        attempts: int = 5,
        backoff: float = 0.5,
        on_rejected: Callable[[int], None] | None = None,
    ):
        self.client = client
        self.prefix = prefix
        self.attempts = attempts
        self.backoff = backoff
        self._on_rejected = on_rejected or (lambda n: None)

    def write_batch(self, records: Sequence[LogRecord]) -> None:
        pending = [
            ({"index": {"_index": index_name(self.prefix, r), "_id": _doc_id(r)}}, r.json)
            for r in records
        ]
        for attempt in range(1, self.attempts + 1):
            if not pending:
                return
            operations: list[Any] = []
            for action, doc in pending:
                operations += [action, doc]
            try:
                response = self.client.bulk(operations=operations, refresh=False)
            except Exception as exc:  # the transport already retried its connections
                log.warning("elasticsearch_bulk_failed", attempt=attempt, error=str(exc))
                self._sleep(attempt)
                continue
            if not response.get("errors"):
                return
            retry, rejected = [], 0
            for item, sent in zip(response["items"], pending, strict=True):
                result = next(iter(item.values()))
                status = int(result.get("status", 500))
                if status < 300:
                    continue
                if status in RETRYABLE or status >= 500:
                    retry.append(sent)
                else:
                    rejected += 1
                    log.error("elasticsearch_rejected", status=status, error=result.get("error"))
            if rejected:
                self._on_rejected(rejected)
            pending = retry
            if pending:
                self._sleep(attempt)
        if pending:
            raise SinkError(f"elasticsearch did not take {len(pending)} documents")

    def _sleep(self, attempt: int) -> None:
        if attempt < self.attempts:
            time.sleep(self.backoff * 2 ** (attempt - 1))

    def close(self) -> None:
        self.client.close()


def _doc_id(record: LogRecord) -> str:
    return hashlib.blake2b(record.json.encode(), digest_size=16).hexdigest()


def ndjson_dir(settings: Settings) -> Path:
    return settings.logs.ndjson_dir or settings.storage.data_dir / "logs" / "ndjson"


def elasticsearch_client(settings: Settings) -> Elasticsearch:
    from elasticsearch import Elasticsearch

    key = settings.logs.elasticsearch_api_key
    return Elasticsearch(
        settings.logs.elasticsearch_hosts,
        api_key=key.get_secret_value() if key else None,
        retry_on_timeout=True,
        max_retries=3,
    )


def build_sinks(
    settings: Settings, add_rows: AddRows, on_rejected: Callable[[int], None] | None = None
) -> list[Sink]:
    """The sinks ``logs.sinks`` names, in that order."""
    builders: dict[str, Callable[[], Sink]] = {
        "eventstore": lambda: EventStoreSink(add_rows),
        "ndjson": lambda: NdjsonSink(ndjson_dir(settings), settings.logs.index_prefix),
        "elasticsearch": lambda: ElasticsearchSink(
            elasticsearch_client(settings), settings.logs.index_prefix, on_rejected=on_rejected
        ),
    }
    return [builders[name]() for name in settings.logs.sinks]
