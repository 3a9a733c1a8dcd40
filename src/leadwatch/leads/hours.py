"""Business hours: when sales is at work, in the site's time zone, and the follow-up
due time each tier promises.

| tier | promise | due |
| --- | --- | --- |
| premium | immediate | ``leads.premium_response_minutes`` business minutes after submission |
| high | same business day | the close of the business day it arrives in (or the next one) |
| standard | next business day | the close of the business day after that |
| low, poor | nurture, automated | none: sales does not follow up |
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from leadwatch.settings import WEEKDAYS, LeadSiteSettings, Settings

# Holidays are a finite list, so a business day is always found within this many days.
MAX_SEARCH_DAYS = 3700


class BusinessCalendar:
    def __init__(self, site: LeadSiteSettings, timezone: str):
        self.zone = ZoneInfo(timezone)
        self.opens, self.closes = site.opens_at, site.closes_at
        self.days = frozenset(WEEKDAYS.index(d) for d in site.business_days)
        self.holidays = frozenset(site.holidays)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def _at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.zone)

    def _business_day_from(self, day: date) -> date:
        for _ in range(MAX_SEARCH_DAYS):
            if self.is_business_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no business day within ten years")

    def next_open(self, t: datetime) -> datetime:
        """``t`` when business is open then, else the next opening (local time)."""
        local = t.astimezone(self.zone)
        day = local.date()
        if self.is_business_day(day):
            if local < self._at(day, self.opens):
                return self._at(day, self.opens)
            if local < self._at(day, self.closes):
                return local
        return self._at(self._business_day_from(day + timedelta(days=1)), self.opens)

    def close_of(self, day: date) -> datetime:
        return self._at(day, self.closes)

    def add_business_minutes(self, t: datetime, minutes: float) -> datetime:
        """The moment ``minutes`` of business time after ``t``."""
        current = self.next_open(t)
        remaining = timedelta(minutes=minutes)
        for _ in range(MAX_SEARCH_DAYS):
            left_today = self.close_of(current.date()) - current
            if remaining <= left_today:
                return current + remaining
            remaining -= left_today
            current = self.next_open(self.close_of(current.date()))
        raise ValueError("business time out of range")

    def business_day_of(self, t: datetime) -> date:
        """The business day a lead arriving at ``t`` is handled on."""
        return self.next_open(t).date()

    def next_business_day(self, day: date) -> date:
        return self._business_day_from(day + timedelta(days=1))


def business_calendars(settings: Settings) -> dict[str, BusinessCalendar]:
    """Each configured site's calendar, by site id."""
    return {s.id: BusinessCalendar(settings.leads.site(s.id), s.timezone) for s in settings.sites}


def follow_up_due(
    tier: str, submitted: datetime, calendar: BusinessCalendar, premium_minutes: int
) -> datetime | None:
    """When sales must have followed up a lead of ``tier`` (aware UTC), or None."""
    if tier == "premium":
        due = calendar.add_business_minutes(submitted, premium_minutes)
    elif tier == "high":
        due = calendar.close_of(calendar.business_day_of(submitted))
    elif tier == "standard":
        due = calendar.close_of(calendar.next_business_day(calendar.business_day_of(submitted)))
    else:
        return None
    return due.astimezone(UTC)
