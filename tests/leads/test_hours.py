"""Business hours and follow-up due times, in the site's zone, across DST changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given
from hypothesis import strategies as st

from leadwatch.leads.hours import BusinessCalendar, follow_up_due
from leadwatch.settings import LeadSiteSettings

LONDON = BusinessCalendar(LeadSiteSettings(holidays=[date(2026, 12, 25)]), "Europe/London")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_premium_is_due_minutes_after_submission_within_hours() -> None:
    # Thursday 2026-11-26 10:00 London (= UTC in winter): due 10:15.
    assert follow_up_due("premium", utc(2026, 11, 26, 10), LONDON, 15) == utc(2026, 11, 26, 10, 15)
    # 16:50: 10 minutes today, 5 minutes after Friday's opening.
    assert follow_up_due("premium", utc(2026, 11, 26, 16, 50), LONDON, 15) == utc(2026, 11, 27, 9, 5)
    # Friday night: Monday 09:15.
    assert follow_up_due("premium", utc(2026, 11, 27, 22), LONDON, 15) == utc(2026, 11, 30, 9, 15)


def test_high_same_business_day_and_standard_the_next() -> None:
    assert follow_up_due("high", utc(2026, 11, 26, 10), LONDON, 15) == utc(2026, 11, 26, 17)
    assert follow_up_due("standard", utc(2026, 11, 26, 10), LONDON, 15) == utc(2026, 11, 27, 17)
    # Friday evening: high is due Monday, standard Tuesday.
    assert follow_up_due("high", utc(2026, 11, 27, 18), LONDON, 15) == utc(2026, 11, 30, 17)
    assert follow_up_due("standard", utc(2026, 11, 27, 18), LONDON, 15) == utc(2026, 12, 1, 17)
    # Christmas Eve (Thursday) evening: Friday the 25th is a holiday, so Monday the 28th.
    assert follow_up_due("high", utc(2026, 12, 24, 18), LONDON, 15) == utc(2026, 12, 28, 17)


def test_low_and_poor_have_no_due_time() -> None:
    assert follow_up_due("low", utc(2026, 11, 26, 10), LONDON, 15) is None
    assert follow_up_due("poor", utc(2026, 11, 26, 10), LONDON, 15) is None


def test_hours_are_local_time_across_daylight_saving() -> None:
    # In summer London is UTC+1: 09:00 local is 08:00 UTC.
    assert follow_up_due("premium", utc(2026, 7, 1, 5), LONDON, 0) == utc(2026, 7, 1, 8)


@given(
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
    st.integers(0, 600),
    st.sampled_from(["Europe/London", "America/New_York", "Asia/Kolkata", "UTC"]),
)
def test_due_times_are_later_and_inside_business_hours(submitted: datetime, minutes: int, zone: str) -> None:
    calendar = BusinessCalendar(LeadSiteSettings(), zone)
    for tier in ("premium", "high", "standard"):
        due = follow_up_due(tier, submitted, calendar, minutes)
        assert due is not None and due >= submitted
        local = due.astimezone(calendar.zone)
        assert calendar.is_business_day(local.date())
        assert time(9) <= local.time().replace(tzinfo=None) <= time(17)
    assert follow_up_due("high", submitted, calendar, minutes) <= follow_up_due(
        "standard", submitted, calendar, minutes) - timedelta(hours=1)
