"""The analytics query layer: traffic, conversion, the funnel, channels, attribution
and Web Vitals, with the same answers on DuckDB and PostgreSQL.

Traffic comes from the event store (page views, vitals, form events of /lw.js);
leads from the record store (the ``leads`` table, rejected submissions left out).
Visitors are distinct daily visitor keys: keys rotate daily (cookieless), so a
person who comes on three days counts three times over a multi-day range.
"""

from __future__ import annotations

import re
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


# Bits per mask column: a BIGINT holds 63 without touching the sign bit; 62 keeps
# the arithmetic obvious. A dimension with more values than MAX_MASKED falls back to
# one count(DISTINCT) statement of its own.
MASK_BITS = 62
MAX_MASKED = 3 * MASK_BITS
EPOCH = datetime(1970, 1, 1)
BUCKET_ANCHOR = datetime(2000, 1, 3)  # the event store's bucket origin (store/sql.py)


def _bucket_start(at: datetime, seconds: int) -> datetime:
    elapsed = (at - BUCKET_ANCHOR).total_seconds()
    return BUCKET_ANCHOR + timedelta(seconds=(elapsed // seconds) * seconds)


def distinct_counts(
    events: EventStore, where: str, params: dict[str, Any], key: str, groups: dict[str, tuple[str, int]]
) -> dict[str, Any]:
    """Exact count(DISTINCT ``key``) over the rows of ``where``, and per index of each
    group (``name: (index SQL in [0, size), size)``), hashing the keys only once.

    Distinct counts do not add up across groups, and hashing the keys is what costs
    (one hash table per count(DISTINCT)). Here there is one group of rows per key,
    holding a bit mask (bit_or) per group of the indexes the key was seen with; the
    count for an index is then the number of keys with its bit set: a sum of bits,
    no further hashing. Returns ``{"n": total, name: [count per index]}``."""
    indexes, masks, sums = [], [], []
    for name, (index_sql, size) in groups.items():
        indexes.append(f"{index_sql} AS i_{name}")
        for j in range(0, size, MASK_BITS):
            masks.append(
                f"bit_or(CASE WHEN i_{name} >= {j} AND i_{name} < {j + MASK_BITS} THEN "
                f"CAST(1 AS BIGINT) << CAST(i_{name} - {j} AS INTEGER) END) AS m_{name}{j // MASK_BITS}"
            )
        sums += [f"sum((m_{name}{i // MASK_BITS} >> {i % MASK_BITS}) & 1) AS c_{name}_{i}" for i in range(size)]
    sql = (
        f"SELECT {', '.join(['count(*) AS n', *sums])} FROM (SELECT {', '.join([key, *masks])} FROM "
        f"(SELECT {', '.join([key, *indexes])} FROM events WHERE {where} AND {key} IS NOT NULL) e "
        f"GROUP BY {key}) g"
    )
    # Only the parameters this statement names (DuckDB refuses others).
    row = events.query(sql, {k: v for k, v in params.items() if re.search(rf":{k}\b", sql)})[0]
    out: dict[str, Any] = {"n": int(row["n"])}
    for name, (_, size) in groups.items():
        out[name] = [int(row[f"c_{name}_{i}"] or 0) for i in range(size)]
    return out


def _value_index(column: str, values: list[Any], params: dict[str, Any]) -> str:
    """SQL giving the position of ``column``'s value in ``values`` (NULL included)."""
    whens = []
    for i, value in enumerate(values):
        if value is None:
            whens.append(f"WHEN {column} IS NULL THEN {i}")
        else:
            params[f"v_{column}_{i}"] = value
            whens.append(f"WHEN {column} = :v_{column}_{i} THEN {i}")
    return f"CASE {' '.join(whens)} END"


def traffic(events: EventStore, scope: Scope, seconds: int) -> dict[str, Any]:
    """Everything the overview needs from the events: totals, the ``seconds``-wide
    series, distinct visitors per channel, landing page, hour of day and device, and
    sessions with a form submission per device. Exactly the numbers of ``totals``,
    ``traffic_series``, ``visitors_by`` and ``submits_by``, with the visitor keys
    hashed once and the session keys once (``distinct_counts``) instead of eight
    count(DISTINCT). The value-to-index maps come from a cheap grouped count of the
    range's page views (no distinct), which also gives the page views."""
    where, params = scope.where()
    d = events.dialect
    pv = f"{where} AND type = 'pageview'"
    first = _bucket_start(scope.start, seconds)
    params.update({"first_epoch": int((first - EPOCH).total_seconds()), "width": seconds})
    bucket = f"CAST((EXTRACT(EPOCH FROM {d.bucket('ts', seconds)}) - :first_epoch) / :width AS INTEGER)"
    cells = events.query(
        f"SELECT channel, device, {bucket} AS b, count(*) AS n FROM events WHERE {pv} GROUP BY 1, 2, 3",
        params,
    )
    pageviews: dict[int, int] = defaultdict(int)
    values: dict[str, list[Any]] = {"channel": [], "device": []}
    for c in cells:
        pageviews[int(c["b"])] += int(c["n"])
        for dim, seen in values.items():
            if c[dim] not in seen:
                seen.append(c[dim])
    buckets = max(pageviews, default=-1) + 1
    out: dict[str, Any] = {
        "totals": {"pageviews": sum(pageviews.values()), "visitors": 0, "sessions": 0},
        "series": [], "channel": {}, "device": {}, "hour": {},
        "landing": visitors_by(events, scope, "landing"),
        "submits_by_device": submits_by(events, scope, "device"),
    }
    if not cells:
        return out
    vparams = dict(params)
    groups = {"hour": ("CAST(EXTRACT(HOUR FROM ts) AS INTEGER)", 24)}
    for dim, seen in values.items():
        if len(seen) <= MAX_MASKED:
            groups[dim] = (_value_index(dim, seen, vparams), len(seen))
        else:
            out[dim] = visitors_by(events, scope, dim)
    by_bucket = buckets <= MAX_MASKED
    if by_bucket:
        groups["b"] = (bucket, buckets)
    v = distinct_counts(events, pv, vparams, "visitor_id", groups)
    for dim in groups.keys() - {"b"}:
        keys = range(24) if dim == "hour" else values[dim]
        out[dim] = {k: n for k, n in zip(keys, v[dim], strict=True) if n}
    out["totals"]["visitors"] = v["n"]
    if not by_bucket:
        out["totals"]["sessions"] = totals(events, scope)["sessions"]
        out["series"] = traffic_series(events, scope, seconds)
        return out
    sess = distinct_counts(events, pv, params, "session_id", {"b": (bucket, buckets)})
    out["totals"]["sessions"] = sess["n"]
    out["series"] = [
        {"bucket": first + timedelta(seconds=b * seconds), "pageviews": pageviews[b],
         "visitors": v["b"][b], "sessions": sess["b"][b]}
        for b in sorted(pageviews)
    ]
    return out


def submits_by(events: EventStore, scope: Scope, dimension: str) -> dict[Any, float]:
    """Sessions with a form submission seen by /lw.js, per value of an event column."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension}")
    where, params = scope.where()
    rows = events.query(
        f"SELECT {dimension} AS key, count(DISTINCT session_id) AS n FROM events WHERE {where} "
        "AND type = 'form_submit' GROUP BY 1",
        params,
    )
    return {r["key"]: float(r["n"]) for r in rows}


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
        f"(SELECT session_id, {', '.join(flags)} FROM events WHERE {where} "
        # Only these types set a flag; sessions without any count nowhere.
        "AND type IN ('pageview', 'form_start', 'form_submit') GROUP BY session_id) f) r"
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
    """Page views, distinct visitors and distinct sessions per value of an event column:
    a grouped count, then ``distinct_counts`` for visitors and sessions."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension}")
    where, params = scope.where()
    pv = f"{where} AND type = 'pageview'"
    rows = events.query(f"SELECT {dimension} AS key, count(*) AS n FROM events WHERE {pv} GROUP BY 1", params)
    keys = [r["key"] for r in rows]
    if len(keys) > MAX_MASKED:
        rows = events.query(
            f"SELECT {dimension} AS key, count(*) AS n, count(DISTINCT visitor_id) AS visitors, "
            f"count(DISTINCT session_id) AS sessions FROM events WHERE {pv} GROUP BY 1",
            params,
        )
        return {r["key"]: {"pageviews": int(r["n"]), "visitors": int(r["visitors"]),
                           "sessions": int(r["sessions"])} for r in rows}
    group = {"k": (_value_index(dimension, keys, params), len(keys))}
    visitors = distinct_counts(events, pv, params, "visitor_id", group)["k"] if keys else []
    sessions = distinct_counts(events, pv, params, "session_id", group)["k"] if keys else []
    return {k: {"pageviews": int(r["n"]), "visitors": v, "sessions": n}
            for k, r, v, n in zip(keys, rows, visitors, sessions, strict=True)}


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
    """``conversion_by_vital_rating`` for several metrics in one scan: sessions grouped
    once (only their vitals of these metrics and their form submissions are read; other
    events cannot change a session's worst value or whether it submitted), then one
    grouping set per metric's rating."""
    where, params = scope.where()
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
    out: dict[str, list[dict[str, Any]]] = {m: [] for m in metrics}
    for i, metric in enumerate(metrics):
        for r in rows:
            if r[f"g{i}"] or r[f"r{i}"] is None:
                continue
            converted = int(r["converted"] or 0)
            out[metric].append({"rating": r[f"r{i}"], "sessions": int(r["sessions"]),
                                "converted": converted, "conversion_rate": converted / int(r["sessions"])})
        out[metric].sort(key=lambda row: row["rating"])
    return out
