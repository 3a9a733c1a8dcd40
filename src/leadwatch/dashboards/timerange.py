"""The time range every page shows: a preset (last hour, 24 h, 7 d, 30 d) or a custom
span, and the bucket width that draws it in at most :data:`MAX_BUCKETS` points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from leadwatch.store.schema import utcnow
from leadwatch.web.deps import RangeError, check_range, utc_value

PRESETS: dict[str, timedelta] = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}
PRESET_LABELS = {"1h": "Last hour", "24h": "Last 24 h", "7d": "Last 7 days", "30d": "Last 30 days"}
DEFAULT = "24h"
# Bucket widths a chart may use, narrowest first; each divides a day.
BUCKET_SECONDS = (60, 300, 900, 3600, 10_800, 21_600, 86_400)
MAX_BUCKETS = 200
LONGEST = timedelta(days=366)


@dataclass(frozen=True)
class TimeRange:
    key: str  # a preset's key or "custom"
    start: datetime  # naive UTC, inclusive
    end: datetime  # naive UTC, exclusive

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def bucket_seconds(self) -> int:
        for width in BUCKET_SECONDS:
            if self.seconds / width <= MAX_BUCKETS:
                return width
        return BUCKET_SECONDS[-1]

    @property
    def label(self) -> str:
        if self.key in PRESET_LABELS:
            return PRESET_LABELS[self.key]
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"

    def query(self) -> dict[str, str]:
        """The URL parameters that select this range again."""
        if self.key == "custom":
            return {"range": "custom", "from": f"{self.start:%Y-%m-%dT%H:%M}",
                    "to": f"{self.end:%Y-%m-%dT%H:%M}"}
        return {"range": self.key}


def parse_range(
    key: str | None,
    start: datetime | None = None,
    end: datetime | None = None,
    now: datetime | None = None,
) -> TimeRange:
    """The range the URL asks for; a preset ends now, a custom range is [from, to)."""
    now = now or utcnow()
    key = key or DEFAULT
    if key in PRESETS:
        return TimeRange(key, now - PRESETS[key], now)
    if key != "custom":
        raise RangeError("range", f"must be one of {', '.join([*PRESETS, 'custom'])}")
    if start is None or end is None:
        raise RangeError("from" if start is None else "to", "a custom range needs from and to")
    start, end = utc_value(start, "from"), utc_value(end, "to")
    check_range(start, end, LONGEST)
    return TimeRange("custom", start, end)
