"""The analytics query layer: traffic, conversion, the funnel, channels, attribution
and Web Vitals, with the same answers on DuckDB and PostgreSQL.

Traffic comes from the event store (page views, vitals, form events of /lw.js);
leads from the record store (the ``leads`` table, rejected submissions left out).
Visitors are distinct daily visitor keys: keys rotate daily (cookieless), so a
person who comes on three days counts three times over a multi-day range.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from leadwatch.leads.models import Lead
from leadwatch.marketing.attribution import MODELS, within_lookback
from leadwatch.marketing.channels import DIRECT
from leadwatch.marketing.rollup import Measure, Row, daily, day_of, once
from leadwatch.marketing.touch import Touch, Touches
from leadwatch.marketing.traffic import traffic as daily_traffic
from leadwatch.store.events import EventStore
from leadwatch.store.records import RecordStore

# (good up to, poor above) per Web Vital; seconds, CLS unitless (web.dev thresholds).
THRESHOLDS: dict[str, tuple[float, float]] = {
    "LCP": (2.5, 4.0),
    "INP": (0.2, 0.5),
    "CLS": (0.1, 0.25),
    "FCP": (1.8, 3.0),
    "TTFB": (0.8, 1.8),
    "FID": (0.1, 0.3),
}
DIMENSIONS = ("channel", "device", "country", "browser", "os")


@dataclass(frozen=True)
class Scope:
    """What a query covers: one site, [start, end) in naive UTC, optional filters on
    event columns (channel, device, country, browser, os)."""

    site_id: str
    start: datetime
    end: datetime
    filters: tuple[tuple[str, str], ...] = ()

    def where(self, *, alias: str = "") -> tuple[str, dict[str, Any]]:
        prefix = f"{alias}." if alias else ""
        clauses = [f"{prefix}site_id = :site_id", f"{prefix}ts >= :start", f"{prefix}ts < :end"]
        params: dict[str, Any] = {"site_id": self.site_id, "start": self.start, "end": self.end}
        for column, value in self.filters:
            if column not in DIMENSIONS:
                raise ValueError(f"cannot filter on {column}")
            clauses.append(f"{prefix}{column} = :f_{column}")
            params[f"f_{column}"] = value
        return " AND ".join(clauses), params


def rating(name: str, value: float) -> str:
    good, poor = THRESHOLDS[name]
    return "good" if value <= good else "poor" if value > poor else "needs-improvement"


# ---- leads (records) ----


@dataclass(frozen=True)
class LeadFact:
    id: int
    at: datetime  # aware UTC
    channel: str
    landing_path: str | None
    campaign: str | None
    status: str
    won_value: float | None
    touches: tuple[Touch, ...]


def leads_in(records: RecordStore, scope: Scope) -> list[LeadFact]:
    """Accepted leads of the scope, with their journey (from the attribution token, else
    a single touch of the lead's own channel at submission); read once per UI page."""
    return once(("leads", records, scope), lambda: _read_leads(records, scope))


def _read_leads(records: RecordStore, scope: Scope) -> list[LeadFact]:
    start, end = scope.start.replace(tzinfo=UTC), scope.end.replace(tzinfo=UTC)
    with records.session() as session:
        # The columns a fact needs, not whole ORM objects: pages read every lead of the range.
        rows = session.execute(
            select(Lead.id, Lead.created_at, Lead.channel, Lead.touches, Lead.utm_campaign, Lead.status,
                   Lead.won_value).where(
                Lead.site_id == scope.site_id,
                Lead.created_at >= start,
                Lead.created_at < end,
                Lead.rejected_reason.is_(None),
            )
        ).all()
        facts = [_fact(lead) for lead in rows]
    wanted = dict(scope.filters)
    if "channel" in wanted:
        facts = [f for f in facts if f.channel == wanted["channel"]]
    return facts


def _fact(lead: Any) -> LeadFact:
    journey: Touches | None = None
    if lead.touches:
        try:
            journey = Touches.from_dict(lead.touches)
        except (KeyError, TypeError, ValueError):
            journey = None
    channel = lead.channel or (journey.latest.channel if journey else DIRECT)
    path = journey.path if journey else (Touch(lead.created_at, channel, campaign=lead.utm_campaign),)
    return LeadFact(
        id=lead.id,
        at=lead.created_at,
        channel=channel,
        landing_path=journey.latest.landing_path if journey else None,
        campaign=(journey.latest.campaign if journey else None) or lead.utm_campaign,
        status=lead.status,
        won_value=lead.won_value if lead.status == "won" else None,
        touches=path,
    )


# ---- traffic and conversion ----


def totals(events: EventStore, scope: Scope) -> dict[str, int]:
    """Page views, visitors and sessions of the scope."""
    return daily_traffic(events, scope).totals()


def traffic_series(events: EventStore, scope: Scope, seconds: int) -> list[dict[str, Any]]:
    """Page views, visitors and sessions per hour (``seconds`` = 3600) or per bucket of
    whole days, buckets with page views only."""
    return daily_traffic(events, scope).series(seconds)


def traffic(events: EventStore, scope: Scope, seconds: int) -> dict[str, Any]:
    """Everything the overview needs from the events, from one reading of the scope's
    days (``marketing/traffic.py``): totals, the ``seconds``-wide series, distinct
    visitors per channel, landing page, hour of day and device, and sessions with a
    form submission per device."""
    days = daily_traffic(events, scope)

    def visitors(dimension: str) -> dict[Any, int]:
        return {k: r["visitors"] for k, r in days.by(dimension).items() if r["visitors"]}

    return {
        "totals": days.totals(),
        "series": days.series(seconds),
        "channel": visitors("channel"),
        "device": visitors("device"),
        "hour": visitors("hour"),
        "landing": visitors("landing"),
        "submits_by_device": {k: float(r["submitters"]) for k, r in days.by("device").items() if r["submitters"]},
    }


def conversion_table(
    visitors: dict[Any, int], leads: dict[Any, float], target: float
) -> list[dict[str, Any]]:
    keys = sorted(set(visitors) | set(leads), key=lambda k: (-visitors.get(k, 0), str(k)))
    rows = []
    for key in keys:
        v, n = visitors.get(key, 0), leads.get(key, 0)
        rate = n / v if v else None
        rows.append(
            {"key": key, "visitors": v, "leads": n, "conversion_rate": rate,
             "on_target": rate is not None and rate >= target}
        )
    return rows


def count_by(facts: Iterable[LeadFact], key: Any) -> dict[Any, float]:
    counts: dict[Any, float] = defaultdict(float)
    for fact in facts:
        counts[key(fact)] += 1
    return dict(counts)


# ---- funnel ----


def _like(pattern: str) -> str:
    return pattern.replace("%", r"\%").replace("_", r"\_").replace("*", "%")


def funnel(events: EventStore, scope: Scope, pages: Sequence[str]) -> list[dict[str, Any]]:
    """Sessions that reached each step, each step counting only sessions that also
    reached every earlier step: the pages (in order), form start, lead (form submit).
    Sessions end with their visitor key's day, so the days' counts add up."""
    measure = Measure(f"funnel {json.dumps(list(pages))}", lambda e, piece: _funnel_day(e, piece, pages),
                      integer_labels=("step",))
    counts = [0] * (len(pages) + 2)
    for r in daily(events, scope, measure):
        counts[r.label] += r.sessions
    names = [*pages, "form start", "lead"]
    steps = []
    for i, (name, count) in enumerate(zip(names, counts, strict=True)):
        before = counts[i - 1] if i else None
        steps.append({
            "step": name,
            "sessions": count,
            "drop_off": before - count if before is not None else None,
            "drop_off_rate": 1 - count / before if before else None,
            "conversion_from_start": count / counts[0] if counts[0] else None,
        })
    return steps


def _funnel_day(events: EventStore, piece: Scope, pages: Sequence[str]) -> list[Row]:
    where, params = piece.where()
    flags = []
    for i, pattern in enumerate(pages):
        params[f"p{i}"] = _like(pattern)
        flags.append(f"max(CASE WHEN type = 'pageview' AND path LIKE :p{i} THEN 1 ELSE 0 END) AS s{i}")
    n = len(pages)
    flags.append(f"max(CASE WHEN type = 'form_start' THEN 1 ELSE 0 END) AS s{n}")
    flags.append(f"max(CASE WHEN type = 'form_submit' THEN 1 ELSE 0 END) AS s{n + 1}")
    sql = (
        f"SELECT {', '.join(f'sum(r{i}) AS c{i}' for i in range(n + 2))} "
        f"FROM (SELECT {', '.join(_reached(i) for i in range(n + 2))} FROM "
        f"(SELECT session_id, {', '.join(flags)} FROM events WHERE {where} "
        # Only these types set a flag; sessions without any count nowhere.
        "AND type IN ('pageview', 'form_start', 'form_submit') GROUP BY session_id) f) r"
    )
    row = events.query(sql, params)[0]
    day = day_of(piece.start)
    return [Row(day, "step", i, sessions=int(row[f"c{i}"] or 0)) for i in range(n + 2) if row[f"c{i}"]]


def _reached(i: int) -> str:
    # A session reaches step i when it did steps 0..i (closed funnel).
    return "(" + " * ".join(f"s{j}" for j in range(i + 1)) + f") AS r{i}"


# ---- channels ----


def channels(events: EventStore, records: RecordStore, scope: Scope, target: float) -> list[dict[str, Any]]:
    traffic = traffic_by(events, scope, "channel")
    traffic = {(k or DIRECT): r for k, r in traffic.items()}
    leads = count_by(leads_in(records, scope), lambda f: f.channel)
    table = conversion_table({k: int(v["visitors"]) for k, v in traffic.items()}, leads, target)
    for row in table:
        t = traffic.get(row["key"], {})
        row["channel"] = row.pop("key")
        row["pageviews"] = int(t.get("pageviews") or 0)
        row["sessions"] = int(t.get("sessions") or 0)
    return table


def traffic_by(events: EventStore, scope: Scope, dimension: str) -> dict[Any, dict[str, int]]:
    """Page views, distinct visitors and distinct sessions per channel or device."""
    if dimension not in ("channel", "device"):
        raise ValueError(f"no traffic breakdown by {dimension}")
    return {k: {"pageviews": r["pageviews"], "visitors": r["visitors"], "sessions": r["sessions"]}
            for k, r in daily_traffic(events, scope).by(dimension).items() if r["pageviews"]}


# ---- attribution ----


def attribution(
    records: RecordStore, scope: Scope, lookback: timedelta, by: str = "channel"
) -> dict[str, Any]:
    """Credit per channel (or campaign) under every model, for leads and won value."""
    facts = leads_in(records, scope)
    credit: dict[str, dict[str, float]] = {m: defaultdict(float) for m in MODELS}
    value: dict[str, dict[str, float]] = {m: defaultdict(float) for m in MODELS}
    for fact in facts:
        touches = credited_touches(fact, lookback)
        for name, model in MODELS.items():
            for touch, share in zip(touches, model(touches, fact.at), strict=True):
                key = credit_key(touch, by)
                credit[name][key] += share
                if fact.won_value:
                    value[name][key] += share * fact.won_value
    keys = sorted({k for m in credit.values() for k in m})
    return {
        "leads": len(facts),
        "won_value": sum(f.won_value or 0 for f in facts),
        "rows": [
            {
                "key": key,
                "leads": {m: round(credit[m].get(key, 0.0), 6) for m in MODELS},
                "value": {m: round(value[m].get(key, 0.0), 2) for m in MODELS},
            }
            for key in keys
        ],
    }


def credited_touches(fact: LeadFact, lookback: timedelta) -> list[Touch]:
    """The touches of a lead that share its credit: those within ``lookback``, else a
    Direct touch at the lead."""
    return within_lookback(fact.touches, fact.at, lookback) or [Touch(fact.at, DIRECT, campaign=None)]


def credit_key(touch: Touch, by: str) -> str:
    """What a touch's credit goes to: its channel, or its campaign (``by``)."""
    return (touch.channel if by == "channel" else touch.campaign) or "(none)"


# ---- Web Vitals ----


def vitals(events: EventStore, scope: Scope, budget: dict[str, float], by: str = "page") -> list[dict[str, Any]]:
    """p75 and the good / needs-improvement / poor shares per metric and page (or
    device), with the share within ``budget``."""
    where, params = scope.where()
    d = events.dialect
    group = {"page": "path", "device": "device", "all": "'all'"}[by]
    limits = {}
    for kind, bound in (("g", 0), ("p", 1), ("b", None)):
        whens = []
        for name, thresholds in THRESHOLDS.items():
            params[f"{kind}_{name}"] = budget[name] if bound is None else thresholds[bound]
            whens.append(f"WHEN '{name}' THEN :{kind}_{name}")
        limits[kind] = f"CASE name {' '.join(whens)} END"
    names = ", ".join(f"'{name}'" for name in THRESHOLDS)
    # One scan for every metric (grouped by key and metric), thresholds per row.
    rows = events.query(
        f"SELECT key, name, count(*) AS n, {d.percentile('value', 0.75)} AS p75, "
        "sum(CASE WHEN value <= g THEN 1 ELSE 0 END) AS good, "
        "sum(CASE WHEN value > g AND value <= p THEN 1 ELSE 0 END) AS needs_improvement, "
        "sum(CASE WHEN value > p THEN 1 ELSE 0 END) AS poor, "
        "sum(CASE WHEN value <= b THEN 1 ELSE 0 END) AS within_budget "
        f"FROM (SELECT {group} AS key, name, value, {limits['g']} AS g, {limits['p']} AS p, "
        f"{limits['b']} AS b FROM events WHERE {where} AND type = 'vital' AND name IN ({names})) v "
        "GROUP BY key, name ORDER BY 1, 2",
        params,
    )
    out = []
    for r in rows:
        n = int(r["n"])
        out.append({
            "key": r["key"],
            "metric": r["name"],
            "samples": n,
            "p75": float(r["p75"]),
            "rating": rating(r["name"], float(r["p75"])),
            "good": int(r["good"]) / n,
            "needs_improvement": int(r["needs_improvement"]) / n,
            "poor": int(r["poor"]) / n,
            "budget": budget[r["name"]],
            "compliance": int(r["within_budget"]) / n,
        })
    return out


def conversion_by_vital_rating(events: EventStore, scope: Scope, metric: str) -> list[dict[str, Any]]:
    """Per rating of a session's worst ``metric`` (LCP or INP): sessions and the share
    that submitted a form: what slowness costs."""
    return conversion_by_vital_ratings(events, scope, (metric,))[metric]


def conversion_by_vital_ratings(
    events: EventStore, scope: Scope, metrics: Sequence[str]
) -> dict[str, list[dict[str, Any]]]:
    """``conversion_by_vital_rating`` for several metrics in one scan per day, the
    days' counts added up (sessions end with their visitor key's day)."""
    name = "vital ratings " + json.dumps({m: THRESHOLDS[m] for m in metrics})
    measure = Measure(name, lambda e, piece: _ratings_day(e, piece, metrics))
    sums: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for r in daily(events, scope, measure):
        sums[r.dimension, r.label][0] += r.sessions
        sums[r.dimension, r.label][1] += r.submitters
    out: dict[str, list[dict[str, Any]]] = {m: [] for m in metrics}
    for (metric, label), (sessions, converted) in sorted(sums.items()):
        out[metric].append({"rating": label, "sessions": sessions, "converted": converted,
                            "conversion_rate": converted / sessions})
    return out


def _ratings_day(events: EventStore, piece: Scope, metrics: Sequence[str]) -> list[Row]:
    """Sessions grouped once (only their vitals of these metrics and their form
    submissions are read; other events cannot change a session's worst value or whether
    it submitted), then one grouping set per metric's rating."""
    where, params = piece.where()
    worst, ratings, sets = [], [], []
    for i, metric in enumerate(metrics):
        good, poor = THRESHOLDS[metric]
        params.update({f"m{i}": metric, f"good{i}": good, f"poor{i}": poor})
        worst.append(f"max(CASE WHEN type = 'vital' AND name = :m{i} THEN value END) AS w{i}")
        ratings.append(
            f"CASE WHEN w{i} IS NULL THEN NULL WHEN w{i} <= :good{i} THEN 'good' "
            f"WHEN w{i} <= :poor{i} THEN 'needs-improvement' ELSE 'poor' END AS r{i}"
        )
        sets.append(f"(r{i})")
    names = ", ".join(f":m{i}" for i in range(len(metrics)))
    rows = events.query(
        f"SELECT {', '.join(f'GROUPING(r{i}) AS g{i}' for i in range(len(metrics)))}, "
        f"{', '.join(f'r{i}' for i in range(len(metrics)))}, "
        "count(*) AS sessions, sum(submitted) AS converted FROM ("
        f"SELECT {', '.join(ratings)}, submitted FROM ("
        f"SELECT session_id, {', '.join(worst)}, "
        "max(CASE WHEN type = 'form_submit' THEN 1 ELSE 0 END) AS submitted "
        f"FROM events WHERE {where} AND (type = 'form_submit' OR (type = 'vital' AND name IN ({names}))) "
        "GROUP BY session_id) s) r "
        f"GROUP BY GROUPING SETS ({', '.join(sets)})",
        params,
    )
    day = day_of(piece.start)
    return [Row(day, metric, r[f"r{i}"], sessions=int(r["sessions"]), submitters=int(r["converted"] or 0))
            for i, metric in enumerate(metrics) for r in rows if not r[f"g{i}"] and r[f"r{i}"] is not None]
