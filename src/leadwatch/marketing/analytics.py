"""The analytics query layer: traffic, conversion, the funnel, channels, attribution
and Web Vitals, with the same answers on DuckDB and PostgreSQL.

Traffic comes from the event store (page views, vitals, form events of /lw.js);
leads from the record store (the ``leads`` table, rejected submissions left out).
Visitors are distinct daily visitor keys: keys rotate daily (cookieless), so a
person who comes on three days counts three times over a multi-day range.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from leadwatch.leads.models import Lead
from leadwatch.marketing.attribution import MODELS, within_lookback
from leadwatch.marketing.channels import DIRECT
from leadwatch.marketing.touch import Touch, Touches
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
    won_value: float | None
    touches: tuple[Touch, ...]


def leads_in(records: RecordStore, scope: Scope) -> list[LeadFact]:
    """Accepted leads of the scope, with their journey (from the attribution token, else
    a single touch of the lead's own channel at submission)."""
    start, end = scope.start.replace(tzinfo=UTC), scope.end.replace(tzinfo=UTC)
    with records.session() as session:
        rows = session.scalars(
            select(Lead).where(
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


def _fact(lead: Lead) -> LeadFact:
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
        won_value=lead.won_value if lead.status == "won" else None,
        touches=path,
    )


# ---- traffic and conversion ----


def totals(events: EventStore, scope: Scope) -> dict[str, Any]:
    where, params = scope.where()
    row = events.query(
        "SELECT count(*) AS pageviews, count(DISTINCT visitor_id) AS visitors, "
        "count(DISTINCT session_id) AS sessions "
        f"FROM events WHERE {where} AND type = 'pageview'",
        params,
    )[0]
    return {k: int(v or 0) for k, v in row.items()}


def traffic_series(events: EventStore, scope: Scope, seconds: int) -> list[dict[str, Any]]:
    where, params = scope.where()
    d = events.dialect
    return events.query(
        f"SELECT {d.bucket('ts', seconds)} AS bucket, count(*) AS pageviews, "
        "count(DISTINCT visitor_id) AS visitors, count(DISTINCT session_id) AS sessions "
        f"FROM events WHERE {where} AND type = 'pageview' GROUP BY 1 ORDER BY 1",
        params,
    )


def visitors_by(events: EventStore, scope: Scope, dimension: str) -> dict[Any, int]:
    """Distinct visitors per value of ``dimension`` (an event column, ``landing`` for
    the session's entry page, or ``hour`` of day)."""
    where, params = scope.where()
    d = events.dialect
    if dimension == "landing":
        expr, extra = "path", f" AND {d.json_field('props', 'entry')} = 'true'"
    elif dimension == "hour":
        expr, extra = "CAST(EXTRACT(HOUR FROM ts) AS INTEGER)", ""
    elif dimension in DIMENSIONS:
        expr, extra = dimension, ""
    else:
        raise ValueError(f"unknown dimension {dimension}")
    rows = events.query(
        f"SELECT {expr} AS key, count(DISTINCT visitor_id) AS visitors FROM events "
        f"WHERE {where} AND type = 'pageview'{extra} GROUP BY 1",
        params,
    )
    return {r["key"]: int(r["visitors"]) for r in rows}


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
    reached every earlier step: the pages (in order), form start, lead (form submit)."""
    where, params = scope.where()
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
        f"(SELECT session_id, {', '.join(flags)} FROM events WHERE {where} GROUP BY session_id) f) r"
    )
    row = events.query(sql, params)[0]
    names = [*pages, "form start", "lead"]
    counts = [int(row[f"c{i}"] or 0) for i in range(n + 2)]
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


def _reached(i: int) -> str:
    # A session reaches step i when it did steps 0..i (closed funnel).
    return "(" + " * ".join(f"s{j}" for j in range(i + 1)) + f") AS r{i}"


# ---- channels ----


def channels(events: EventStore, records: RecordStore, scope: Scope, target: float) -> list[dict[str, Any]]:
    where, params = scope.where()
    rows = events.query(
        "SELECT channel, count(*) AS pageviews, count(DISTINCT visitor_id) AS visitors, "
        f"count(DISTINCT session_id) AS sessions FROM events WHERE {where} AND type = 'pageview' "
        "GROUP BY channel",
        params,
    )
    traffic = {r["channel"] or DIRECT: r for r in rows}
    leads = count_by(leads_in(records, scope), lambda f: f.channel)
    table = conversion_table({k: int(v["visitors"]) for k, v in traffic.items()}, leads, target)
    for row in table:
        t = traffic.get(row["key"], {})
        row["channel"] = row.pop("key")
        row["pageviews"] = int(t.get("pageviews") or 0)
        row["sessions"] = int(t.get("sessions") or 0)
    return table


# ---- attribution ----


def attribution(
    records: RecordStore, scope: Scope, lookback: timedelta, by: str = "channel"
) -> dict[str, Any]:
    """Credit per channel (or campaign) under every model, for leads and won value."""
    facts = leads_in(records, scope)
    credit: dict[str, dict[str, float]] = {m: defaultdict(float) for m in MODELS}
    value: dict[str, dict[str, float]] = {m: defaultdict(float) for m in MODELS}
    for fact in facts:
        touches = within_lookback(fact.touches, fact.at, lookback) or [
            Touch(fact.at, DIRECT, campaign=None)
        ]
        for name, model in MODELS.items():
            for touch, share in zip(touches, model(touches, fact.at), strict=True):
                key = (touch.channel if by == "channel" else touch.campaign) or "(none)"
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


# ---- Web Vitals ----


def vitals(events: EventStore, scope: Scope, budget: dict[str, float], by: str = "page") -> list[dict[str, Any]]:
    """p75 and the good / needs-improvement / poor shares per metric and page (or
    device), with the share within ``budget``."""
    where, params = scope.where()
    d = events.dialect
    group = {"page": "path", "device": "device", "all": "'all'"}[by]
    cases = []
    for name, (good, poor) in THRESHOLDS.items():
        params[f"g_{name}"], params[f"p_{name}"], params[f"b_{name}"] = good, poor, budget[name]
    rating_sql = (
        "sum(CASE WHEN value <= {g} THEN 1 ELSE 0 END) AS good, "
        "sum(CASE WHEN value > {g} AND value <= {p} THEN 1 ELSE 0 END) AS needs_improvement, "
        "sum(CASE WHEN value > {p} THEN 1 ELSE 0 END) AS poor, "
        "sum(CASE WHEN value <= {b} THEN 1 ELSE 0 END) AS within_budget"
    )
    for name in THRESHOLDS:
        cases.append(
            f"SELECT {group} AS key, name, count(*) AS n, {d.percentile('value', 0.75)} AS p75, "
            + rating_sql.format(g=f":g_{name}", p=f":p_{name}", b=f":b_{name}")
            + f" FROM events WHERE {where} AND type = 'vital' AND name = '{name}' GROUP BY 1, 2"
        )
    rows = events.query(" UNION ALL ".join(cases) + " ORDER BY 1, 2", params)
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
    where, params = scope.where()
    good, poor = THRESHOLDS[metric]
    params.update({"metric": metric, "good": good, "poor": poor})
    rows = events.query(
        "SELECT CASE WHEN worst <= :good THEN 'good' WHEN worst <= :poor THEN 'needs-improvement' "
        "ELSE 'poor' END AS rating, count(*) AS sessions, sum(submitted) AS converted FROM ("
        "SELECT session_id, max(CASE WHEN type = 'vital' AND name = :metric THEN value END) AS worst, "
        "max(CASE WHEN type = 'form_submit' THEN 1 ELSE 0 END) AS submitted "
        f"FROM events WHERE {where} GROUP BY session_id) s WHERE worst IS NOT NULL GROUP BY 1 ORDER BY 1",
        params,
    )
    return [
        {"rating": r["rating"], "sessions": int(r["sessions"]), "converted": int(r["converted"] or 0),
         "conversion_rate": int(r["converted"] or 0) / int(r["sessions"])}
        for r in rows
    ]
