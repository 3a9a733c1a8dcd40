"""The Executive page's "Leads today" counts from midnight in the site's time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import given
from hypothesis import strategies as st

from leadwatch.dashboards.pages.executive import local_midnight


def test_midnight_is_the_sites_not_utcs() -> None:
    now = datetime(2026, 11, 27, 3, 0)  # 22:00 on the 26th in New York, 12:00 on the 27th in Tokyo
    assert local_midnight(now, ZoneInfo("UTC")) == datetime(2026, 11, 27, 0, 0)
    assert local_midnight(now, ZoneInfo("America/New_York")) == datetime(2026, 11, 26, 5, 0)
    assert local_midnight(now, ZoneInfo("Asia/Tokyo")) == datetime(2026, 11, 26, 15, 0)
    # The day the clocks go back in London is 25 hours long.
    assert local_midnight(datetime(2026, 10, 25, 23, 30), ZoneInfo("Europe/London")) == datetime(2026, 10, 24, 23, 0)


@given(st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)),
       st.sampled_from(sorted(available_timezones())))
def test_midnight_starts_the_local_day_that_holds_now(now: datetime, name: str) -> None:
    zone = ZoneInfo(name)
    midnight = local_midnight(now, zone)
    local_now = now.replace(tzinfo=UTC).astimezone(zone)
    assert midnight <= now and now - midnight < timedelta(hours=26)
    assert midnight.replace(tzinfo=UTC).astimezone(zone).date() == local_now.date()
