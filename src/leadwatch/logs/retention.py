"""Retention: each dataset's records are kept ``logs.retention_days[dataset]`` days.

The purge job deletes older rows of the ``logs`` table and older NDJSON files (by
the date in their names); it runs in the server every ``logs.purge_interval_seconds``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from leadwatch.background import PeriodicService
from leadwatch.store.events import EventStore
from leadwatch.store.schema import LOGS, utcnow

log = structlog.get_logger(__name__)

_NDJSON_NAME = re.compile(r"^(?P<prefix>.+?)-(?P<dataset>[a-z-]+)-(?P<day>\d{4}\.\d{2}\.\d{2})\.ndjson$")


def purge_store(
    store: EventStore, retention_days: dict[str, int], now: datetime | None = None
) -> dict[str, int]:
    """Delete each dataset's rows older than its retention; rows deleted per dataset."""
    now = now or utcnow()
    return {
        dataset: store.delete(LOGS, "dataset = :dataset AND ts < :cutoff",
                              {"dataset": dataset, "cutoff": now - timedelta(days=days)})
        for dataset, days in sorted(retention_days.items())
    }


def purge_files(
    directory: Path, prefix: str, retention_days: dict[str, int], now: datetime | None = None
) -> list[Path]:
    """Delete NDJSON files whose day is past their dataset's retention."""
    if not directory.is_dir():
        return []
    today = (now or utcnow()).date()
    removed = []
    for path in directory.glob(f"{prefix}-*.ndjson"):
        match = _NDJSON_NAME.match(path.name)
        if not match or match["prefix"] != prefix or match["dataset"] not in retention_days:
            continue
        day = datetime.strptime(match["day"], "%Y.%m.%d").date()
        if (today - day).days > retention_days[match["dataset"]]:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


class PurgeService(PeriodicService):
    name = "logs-purge"
    run_first = True
    failure_event = "logs_purge_failed"

    def __init__(
        self,
        store: EventStore,
        retention_days: dict[str, int],
        interval: float,
        ndjson: tuple[Path, str] | None = None,
    ):
        super().__init__()
        self.store = store
        self.retention_days = retention_days
        self.interval = interval
        self.ndjson = ndjson

    def run_once(self) -> None:
        deleted = purge_store(self.store, self.retention_days)
        files = purge_files(*self.ndjson, self.retention_days) if self.ndjson else []
        if any(deleted.values()) or files:
            log.info("logs_purged", rows=deleted, files=len(files))

    def tick(self) -> None:
        self.run_once()
