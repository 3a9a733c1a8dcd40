from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from leadwatch.dashboards.timerange import MAX_BUCKETS, RangeError, parse_range

NOW = datetime(2026, 5, 4, 12, 0)


@pytest.mark.parametrize(("key", "span", "bucket"), [
    ("1h", timedelta(hours=1), 60), ("24h", timedelta(days=1), 900),
    ("7d", timedelta(days=7), 3600), ("30d", timedelta(days=30), 21_600),
])
def test_presets_end_now_with_at_most_max_buckets(key: str, span: timedelta, bucket: int) -> None:
    tr = parse_range(key, now=NOW)
    assert (tr.start, tr.end, tr.bucket_seconds) == (NOW - span, NOW, bucket)
    assert tr.seconds / tr.bucket_seconds <= MAX_BUCKETS
    assert tr.query() == {"range": key}


def test_default_is_the_last_24_hours() -> None:
    assert parse_range(None, now=NOW).key == "24h"


def test_custom_range_converts_offsets_to_utc_and_round_trips() -> None:
    start = datetime(2026, 5, 1, 10, 0, tzinfo=UTC) + timedelta(hours=2)
    tr = parse_range("custom", start.astimezone(), datetime(2026, 5, 2, 0, 0), now=NOW)
    assert tr.start == datetime(2026, 5, 1, 12, 0) and tr.end == datetime(2026, 5, 2)
    assert tr.query() == {"range": "custom", "from": "2026-05-01T12:00", "to": "2026-05-02T00:00"}


@pytest.mark.parametrize(("key", "start", "end", "field"), [
    ("2w", None, None, "range"),
    ("custom", None, NOW, "from"),
    ("custom", NOW, None, "to"),
    ("custom", NOW, NOW - timedelta(hours=1), "from"),
    ("custom", NOW - timedelta(days=400), NOW, "from"),
])
def test_bad_ranges_name_the_parameter(key, start, end, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RangeError) as err:
        parse_range(key, start, end, now=NOW)
    assert err.value.field == field
