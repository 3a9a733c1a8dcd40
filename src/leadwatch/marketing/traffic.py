"""Page views, distinct visitors and sessions: the traffic measure of the analytics.

``measure`` computes one UTC day's traffic (or part of a day's) per hour, channel,
device and landing page; ``traffic`` adds up a scope's days (``rollup.daily``: closed
days from the rollup, the others live). Within a day, distinct visitors and sessions
per hour, channel and device come from one hash of the keys each
(``distinct_counts``), not one count(DISTINCT) per breakdown.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from leadwatch.marketing.rollup import Measure, Row, daily, day_of
from leadwatch.store.events import EventStore
from leadwatch.store.sql import BUCKET_ANCHOR

if TYPE_CHECKING:
    from leadwatch.marketing.analytics import Scope

HOUR = 3600
# Bits per mask column: a BIGINT holds 63 without touching the sign bit; 62 keeps
# the arithmetic obvious. A dimension with more values than MAX_MASKED gets one
# count(DISTINCT) statement of its own.
MASK_BITS = 62
MAX_MASKED = 3 * MASK_BITS
HOUR_OF_DAY = "CAST(EXTRACT(HOUR FROM ts) AS INTEGER)"
MASKED = ("channel", "device")


@dataclass(frozen=True)
class Traffic:
    """The per-day rows of a range, and the sums the analytics need from them."""

    rows: list[Row]

    def totals(self) -> dict[str, int]:
        out = {"pageviews": 0, "visitors": 0, "sessions": 0}
        for r in self.rows:
            if r.dimension == "total":
                out["pageviews"] += r.pageviews
                out["visitors"] += r.visitors
                out["sessions"] += r.sessions
        return out

    def by(self, dimension: str) -> dict[Any, dict[str, int]]:
        out: dict[Any, dict[str, int]] = {}
        for r in self.rows:
            if r.dimension == dimension:
                sums = out.setdefault(r.label, {"pageviews": 0, "visitors": 0, "sessions": 0, "submitters": 0})
                sums["pageviews"] += r.pageviews
                sums["visitors"] += r.visitors
                sums["sessions"] += r.sessions
                sums["submitters"] += r.submitters
        return out

    def series(self, seconds: int) -> list[dict[str, Any]]:
        """Page views, visitors and sessions per ``seconds``-wide bucket (an hour, or
        whole days aligned like the event store's buckets), buckets with page views."""
        if seconds == HOUR:
            dimension, start = "hour", lambda r: r.day + timedelta(hours=r.label)
        elif seconds % 86_400 == 0:
            dimension, start = "total", lambda r: bucket_start(r.day, seconds)
        else:  # distinct counts add up across days, not across hours
            raise ValueError("the traffic series has hourly or whole-day buckets")
        buckets: dict[datetime, list[int]] = defaultdict(lambda: [0, 0, 0])
        for r in self.rows:
            if r.dimension == dimension and r.pageviews:
                sums = buckets[start(r)]
                sums[0] += r.pageviews
                sums[1] += r.visitors
                sums[2] += r.sessions
        return [{"bucket": b, "pageviews": p, "visitors": v, "sessions": s}
                for b, (p, v, s) in sorted(buckets.items())]


def bucket_start(at: datetime, seconds: int) -> datetime:
    """Start of the ``seconds``-wide bucket holding ``at``, aligned like the event
    store's buckets (``Dialect.bucket``)."""
    elapsed = (at - BUCKET_ANCHOR).total_seconds()
    return BUCKET_ANCHOR + timedelta(seconds=(elapsed // seconds) * seconds)


def traffic(events: EventStore, scope: Scope, now: datetime | None = None) -> Traffic:
    """The traffic of ``scope``, added up from its days."""
    return Traffic(daily(events, scope, TRAFFIC, now))


def measure(events: EventStore, piece: Scope) -> list[Row]:
    """The rows of ``piece`` (a part of one UTC day, or the whole day): a grouped count
    of the page views per hour, channel and device (which also lists the values), one
    pass over the visitor keys and one over the session keys for their distinct counts
    per hour, channel and device, then landing pages and form-submitting sessions."""
    day = day_of(piece.start)
    where, params = piece.where()
    pv = f"{where} AND type = 'pageview'"
    counts: dict[tuple[str, Any], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    values: dict[str, list[Any]] = {dim: [] for dim in MASKED}
    for c in events.query(
        f"SELECT {HOUR_OF_DAY} AS hour, channel, device, count(*) AS n FROM events WHERE {pv} GROUP BY 1, 2, 3",
        params,
    ):
        n = int(c["n"])
        counts["total", None][0] += n
        counts["hour", int(c["hour"])][0] += n
        for dim, seen in values.items():
            counts[dim, c[dim]][0] += n
            if c[dim] not in seen:
                seen.append(c[dim])
    if counts:
        groups = {"hour": (HOUR_OF_DAY, 24)}
        vparams = dict(params)
        for dim, seen in values.items():
            if len(seen) <= MAX_MASKED:
                groups[dim] = (_value_index(dim, seen, vparams), len(seen))
            else:
                for r in events.query(
                    f"SELECT {dim} AS label, count(DISTINCT visitor_id) AS v, count(DISTINCT session_id) AS s "
                    f"FROM events WHERE {pv} GROUP BY 1",
                    params,
                ):
                    counts[dim, r["label"]][1:3] = [int(r["v"]), int(r["s"])]
        distinct = distinct_counts(events, pv, vparams, ("visitor_id", "session_id"), groups)
        for column, key in ((1, "visitor_id"), (2, "session_id")):
            found = distinct[key]
            counts["total", None][column] = found["n"]
            for name, (_, size) in groups.items():
                labels = range(size) if name == "hour" else values[name]
                for label, n in zip(labels, found[name], strict=True):
                    if n:
                        counts[name, label][column] = n
    entry = events.dialect.json_field("props", "entry")
    for r in events.query(
        f"SELECT path AS label, count(*) AS n, count(DISTINCT visitor_id) AS v, count(DISTINCT session_id) AS s "
        f"FROM events WHERE {pv} AND {entry} = 'true' GROUP BY 1",
        params,
    ):
        counts["landing", r["label"]][:3] = [int(r["n"]), int(r["v"]), int(r["s"])]
    for r in events.query(
        f"SELECT device AS label, count(DISTINCT session_id) AS n FROM events WHERE {where} "
        "AND type = 'form_submit' GROUP BY 1",
        params,
    ):
        counts["device", r["label"]][3] = int(r["n"])
    return [Row(day, dim, label, *sums) for (dim, label), sums in counts.items()]


def distinct_counts(
    events: EventStore, where: str, params: dict[str, Any], keys: tuple[str, ...], groups: dict[str, tuple[str, int]]
) -> dict[str, dict[str, Any]]:
    """Exact count(DISTINCT key) for each of ``keys`` over the rows of ``where``, and per
    index of each group (``name: (index SQL in [0, size), size)``), hashing the rows once.

    Distinct counts do not add up across groups, and hashing the keys is what costs
    (one hash table per count(DISTINCT)). Here the rows are grouped once by all the keys
    together (visitor and session: few pairs per key), each group holding a bit mask
    (bit_or) per group of the indexes it was seen with; those groups are then grouped by
    each key, OR-ing the masks, and the count for an index is the number of keys with
    its bit set: a sum of bits. Returns ``{key: {"n": total, name: [count per index]}}``."""
    indexes, masks, merged = [], [], []
    for name, (index_sql, size) in groups.items():
        indexes.append(f"{index_sql} AS i_{name}")
        for j in range(0, size, MASK_BITS):
            column = f"m_{name}{j // MASK_BITS}"
            masks.append(
                f"bit_or(CASE WHEN i_{name} >= {j} AND i_{name} < {j + MASK_BITS} THEN "
                f"CAST(1 AS BIGINT) << CAST(i_{name} - {j} AS INTEGER) END) AS {column}"
            )
            merged.append(f"bit_or({column}) AS {column}")
    per_key = []
    for k, key in enumerate(keys):
        sums = [f"count(*) AS n{k}"]
        for name, (_, size) in groups.items():
            sums += [f"sum((m_{name}{i // MASK_BITS} >> {i % MASK_BITS}) & 1) AS c{k}_{name}_{i}" for i in range(size)]
        per_key.append(f"(SELECT {', '.join(sums)} FROM (SELECT {', '.join([key, *merged])} FROM p "
                       f"WHERE {key} IS NOT NULL GROUP BY {key}) g{k}) k{k}")
    sql = (
        f"WITH p AS MATERIALIZED (SELECT {', '.join([*keys, *masks])} FROM "
        f"(SELECT {', '.join([*keys, *indexes])} FROM events WHERE {where}) e GROUP BY {', '.join(keys)}) "
        f"SELECT * FROM {', '.join(per_key)}"
    )
    # Only the parameters this statement names (DuckDB refuses others).
    row = events.query(sql, {k: v for k, v in params.items() if re.search(rf":{k}\b", sql)})[0]
    return {key: {"n": int(row[f"n{k}"]), **{name: [int(row[f"c{k}_{name}_{i}"] or 0) for i in range(size)]
                                             for name, (_, size) in groups.items()}}
            for k, key in enumerate(keys)}


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


TRAFFIC = Measure("traffic", measure, integer_labels=("hour",))
