"""HTTP (admin scope): ``/api/v1/marketing/spend`` enters, lists and deletes marketing
spend (budgets from settings are listed too, read-only); ``/api/v1/marketing/roi``
sets a range's spend against what each channel and campaign is credited with;
``/api/v1/marketing/revenue-impact`` estimates the leads and revenue lost during
incidents and conversion drops."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from leadwatch.marketing import analytics, revenue, roi, spend
from leadwatch.marketing.channels import CHANNELS
from leadwatch.marketing.routes import scope
from leadwatch.runtime import Runtime
from leadwatch.settings import MONTH, YEARS
from leadwatch.web.deps import OpenRange, RangeError, check_range, get_runtime, require_scope, time_range
from leadwatch.web.errors import ERROR_RESPONSES, ApiError

router = APIRouter(
    prefix="/api/v1/marketing",
    tags=["marketing"],
    responses=ERROR_RESPONSES,
    dependencies=[Depends(require_scope("admin"))],
)

# Ten years: a longer period is almost certainly a typo in a date.
MAX_DAYS = 3660
# The estimate works hour by hour; a year of hours is plenty for a dashboard.
MAX_IMPACT = timedelta(days=366)


class SpendIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    site_id: str | None = Field(None, max_length=63, description="Required when several sites are configured.")
    channel: str = Field(min_length=1, max_length=32, examples=["Paid Search"])
    campaign: str | None = Field(None, min_length=1, max_length=200, description="Only this campaign.")
    month: str | None = Field(None, pattern=MONTH, description="A calendar month (or give start and end).",
                              examples=["2026-11"])
    start: date | None = Field(None, description="First day, with end.")
    end: date | None = Field(None, description="Last day, inclusive.")
    amount: float = Field(gt=0, le=1e12, description="Amount spent in the period.")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$",
                                 description="Must be the site's currency (marketing.sites.<site>.currency).")
    note: str | None = Field(None, max_length=500)


def _check_year(year: int, field: str) -> None:
    if not YEARS[0] <= year <= YEARS[1]:
        raise ApiError(422, f"{field.split('.')[-1]} is out of range",
                       fields={field: f"must lie in the years {YEARS[0]} to {YEARS[1]}"})


def _period(body: SpendIn) -> tuple[date, date]:
    if body.month is not None:
        if body.start is not None or body.end is not None:
            raise ApiError(422, "give either month or start and end",
                           fields={"body.month": "not together with start and end"})
        _check_year(int(body.month[:4]), "body.month")
        return spend.month_days(body.month)
    if body.start is None or body.end is None:
        missing = "body.start" if body.start is None else "body.end"
        raise ApiError(422, "a period is required: month, or start and end",
                       fields={missing: "required (or give month)"})
    if body.start > body.end:
        raise ApiError(422, "start must be on or before end", fields={"body.end": "before start"})
    for name, day in (("body.start", body.start), ("body.end", body.end)):
        _check_year(day.year, name)
    if (body.end - body.start).days >= MAX_DAYS:
        raise ApiError(422, "the period is too long", fields={"body.end": f"at most {MAX_DAYS} days after start"})
    return body.start, body.end


def _site(runtime: Runtime, given: str | None, field: str) -> str:
    if given is None:
        if len(runtime.site_ids) == 1:
            return next(iter(runtime.site_ids))
        raise ApiError(422, "the site is required when several sites are configured", fields={field: "required"})
    if given not in runtime.site_ids:
        raise ApiError(422, f"unknown site {given!r}", fields={field: "not a configured site"})
    return given


def _channel(line: spend.SpendLine) -> str | None:
    return line.channel


def _campaign(line: spend.SpendLine) -> str | None:
    return line.campaign


@router.post("/spend", status_code=201, summary="Record spend on a channel (or campaign) for a month or date range")
async def create_spend(body: SpendIn, runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    site_id = _site(runtime, body.site_id, "body.site_id")
    if body.channel not in CHANNELS:
        raise ApiError(422, f"unknown channel {body.channel!r}",
                       fields={"body.channel": f"must be one of {', '.join(CHANNELS)}"})
    currency = runtime.settings.marketing.site(site_id).currency
    if body.currency is not None and body.currency != currency:
        raise ApiError(422, f"amounts of site {site_id!r} are in {currency}",
                       fields={"body.currency": f"must be {currency} (marketing.sites.<site>.currency)"})
    first, last = _period(body)
    line = spend.SpendLine(None, "api", body.channel, body.campaign, first, last, body.amount, currency, body.note)

    def save() -> spend.SpendLine:
        with runtime.records.session() as session:
            return spend.add(session, site_id, line)

    saved = await run_in_threadpool(save)
    return {"site": site_id, **saved.as_dict()}


@router.get("/spend", summary="Spend of a site: budgets from settings and entries, with what falls in a range")
async def list_spend(
    site: Annotated[str | None, Query(max_length=63, description="Site id.")] = None,
    window: OpenRange = Depends(time_range(from_doc="Only spend overlapping from this time.",
                                           to_doc="Only spend overlapping up to this time.")),
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    site_id = _site(runtime, site, "query.site")
    start_ts, end_ts = window

    def load() -> list[spend.SpendLine]:
        with runtime.records.session() as session:
            return spend.lines(session, runtime.settings.marketing, site_id, start_ts, end_ts)

    found = await run_in_threadpool(load)
    answer: dict[str, Any] = {"site": site_id, "currency": runtime.settings.marketing.site(site_id).currency,
                              "spend": [line.as_dict() for line in found]}
    if start_ts and end_ts:
        by_channel = spend.spent(found, start_ts, end_ts, _channel)
        answer["in_range"] = {"from": start_ts, "to": end_ts, "total": round(sum(by_channel.values()), 2),
                              "by_channel": {k: round(v, 2) for k, v in sorted(by_channel.items())}}
    return answer


@router.delete("/spend/{spend_id}", summary="Delete a spend entry (budgets from settings are changed in settings)")
async def delete_spend(
    spend_id: Annotated[int, Path(ge=1, le=2**31 - 1)], runtime: Runtime = Depends(get_runtime)
) -> dict[str, Any]:
    def remove() -> bool:
        with runtime.records.session() as session:
            return spend.delete(session, spend_id)

    if not await run_in_threadpool(remove):
        raise ApiError(404, f"no spend entry {spend_id}", fields={"path.spend_id": "unknown spend entry"})
    return {"id": spend_id, "deleted": True}


@router.get("/roi", summary="Spend, leads, cost per (won) lead, won value, ROAS and ROI per channel and campaign")
async def channel_roi(
    s: analytics.Scope = Depends(scope),
    model: Literal["first_touch", "last_non_direct", "linear", "position_based", "time_decay"] = "last_non_direct",
    runtime: Runtime = Depends(get_runtime),
) -> dict[str, Any]:
    """The range's spend (prorated by day) against the leads, qualified and won leads
    and won value credited under ``model``; ``channel`` and ``campaign`` are None when
    the range has no spend (on any channel, or on any campaign)."""
    lookback = timedelta(days=runtime.settings.collect.attribution_lookback_days)

    def run() -> dict[str, Any]:
        with runtime.records.session() as session:
            lines = spend.lines(session, runtime.settings.marketing, s.site_id, s.start, s.end)
        answer: dict[str, Any] = {"site": s.site_id, "from": s.start, "to": s.end, "model": model,
                                  "currency": runtime.settings.marketing.site(s.site_id).currency,
                                  "channel": None, "campaign": None}
        for by, key in (("channel", _channel), ("campaign", _campaign)):
            spent = spend.spent(lines, s.start, s.end, key)
            if any(spent.values()):
                answer[by] = roi.table(spent, roi.credited(runtime.records, s, lookback, model, by))
        return answer

    return await run_in_threadpool(run)


@router.get("/revenue-impact", summary="Estimated leads and revenue lost during incidents and conversion drops")
async def revenue_impact(s: analytics.Scope = Depends(scope), runtime: Runtime = Depends(get_runtime)) -> dict[str, Any]:
    """An estimate (see docs/dashboards.md for the model and its assumptions)."""
    if s.filters:
        raise ApiError(422, "the revenue impact covers the whole site",
                       fields={f"query.{s.filters[0][0]}": "filters are not supported here"})
    _check_year(s.start.year, "query.from")
    _check_year(s.end.year, "query.to")
    try:
        check_range(s.start, s.end, MAX_IMPACT)
    except RangeError as exc:
        raise exc.api_error() from None
    answer = await run_in_threadpool(revenue.impact, runtime, s.site_id, s.start, s.end)
    return {"site": s.site_id, "from": s.start, "to": s.end, **answer}
