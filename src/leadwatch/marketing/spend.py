"""Marketing spend: what was spent per site, channel (optionally campaign) and period,
from static budgets in settings and from entries made through the admin API (stored
in the record store), and the share of it that falls in a time range.

A period is whole UTC days, first to last inclusive; its amount is spread evenly over
its days, so a range gets the spend of the days (and parts of days) it covers.
"""

from __future__ import annotations

import calendar
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from leadwatch.settings import MarketingSettings
from leadwatch.store.models import Base, UTCDateTime, now


class Spend(Base):
    """One spend entry made through ``/api/v1/marketing/spend``."""

    __tablename__ = "marketing_spend"
    __table_args__ = (Index("ix_marketing_spend_site_id_last_day", "site_id", "last_day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[str] = mapped_column(ForeignKey("sites.id"))
    channel: Mapped[str] = mapped_column(String(32))
    campaign: Mapped[str | None] = mapped_column(String(200))
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    amount: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    note: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def month_days(month: str) -> tuple[date, date]:
    """The first and last day of a ``YYYY-MM`` month."""
    year, number = (int(part) for part in month.split("-"))
    return date(year, number, 1), date(year, number, calendar.monthrange(year, number)[1])


@dataclass(frozen=True)
class SpendLine:
    """Spend from either source; ``id`` is None for a budget from settings."""

    id: int | None
    source: str  # "settings" or "api"
    channel: str
    campaign: str | None
    first_day: date
    last_day: date
    amount: float
    currency: str
    note: str | None = None

    @property
    def days(self) -> int:
        return (self.last_day - self.first_day).days + 1

    def share(self, start: datetime, end: datetime) -> float:
        """The amount falling in [start, end) (naive UTC), spread evenly by day."""
        begins = datetime.combine(self.first_day, time())
        ends = datetime.combine(self.last_day + timedelta(days=1), time())
        overlap = (min(end, ends) - max(start, begins)).total_seconds()
        return self.amount * max(overlap, 0.0) / (self.days * 86_400)

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "source": self.source, "channel": self.channel, "campaign": self.campaign,
                "first_day": self.first_day, "last_day": self.last_day, "amount": self.amount,
                "currency": self.currency, "note": self.note}


def from_row(row: Spend) -> SpendLine:
    return SpendLine(row.id, "api", row.channel, row.campaign, row.first_day, row.last_day, row.amount,
                     row.currency, row.note)


def budgets(settings: MarketingSettings, site_id: str) -> list[SpendLine]:
    site = settings.site(site_id)
    lines = []
    for budget in site.spend:
        first, last = month_days(budget.month) if budget.month else (budget.start, budget.end)
        assert first is not None and last is not None  # the settings model requires one period
        lines.append(SpendLine(None, "settings", budget.channel, budget.campaign, first, last,
                               budget.amount, site.currency))
    return lines


def lines(
    session: Session, settings: MarketingSettings, site_id: str,
    start: datetime | None = None, end: datetime | None = None,
) -> list[SpendLine]:
    """Every spend line of the site (budgets first) overlapping [start, end) when given."""
    query = select(Spend).where(Spend.site_id == site_id).order_by(Spend.first_day, Spend.id)
    if start is not None:
        query = query.where(Spend.last_day >= start.date())
    if end is not None:
        query = query.where(Spend.first_day <= end.date())
    stored = [from_row(row) for row in session.scalars(query)]
    return [
        line for line in budgets(settings, site_id) + stored
        if (start is None or line.last_day >= start.date())
        and (end is None or datetime.combine(line.first_day, time()) < end)
    ]


def spent(
    spend: Iterable[SpendLine], start: datetime, end: datetime, key: Callable[[SpendLine], str | None]
) -> dict[str, float]:
    """Spend in [start, end) per ``key`` of a line (its channel or campaign); lines
    whose key is None are left out."""
    totals: dict[str, float] = defaultdict(float)
    for line in spend:
        k = key(line)
        if k is not None:
            totals[k] += line.share(start, end)
    return dict(totals)


def add(session: Session, site_id: str, line: SpendLine) -> SpendLine:
    row = Spend(site_id=site_id, channel=line.channel, campaign=line.campaign, first_day=line.first_day,
                last_day=line.last_day, amount=line.amount, currency=line.currency, note=line.note,
                created_at=datetime.now(UTC))
    session.add(row)
    session.flush()
    return from_row(row)


def delete(session: Session, spend_id: int) -> bool:
    row = session.get(Spend, spend_id)
    if row is None:
        return False
    session.delete(row)
    return True
