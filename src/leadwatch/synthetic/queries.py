"""Queries over ``probe_results``, written once for DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import orjson

from leadwatch.store.events import EventStore
from leadwatch.store.schema import PROBE_RESULTS

T = PROBE_RESULTS.name
SLO_WINDOWS = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "30d": timedelta(days=30)}
DAY = 86_400


def success_ratios(store: EventStore, now: datetime) -> dict[str, dict[str, Any]]:
    """Per journey, over every location: runs and the success ratio in each SLO window."""
    parts, params = [], {"since": now - max(SLO_WINDOWS.values()), "now": now}
    for key, span in SLO_WINDOWS.items():
        params[f"s{key}"] = now - span
        parts.append(f"avg(CASE WHEN ts >= :s{key} THEN success END) AS r{key}, "
                     f"count(CASE WHEN ts >= :s{key} THEN 1 END) AS n{key}")
    rows = store.query(
        f"SELECT journey, {', '.join(parts)} FROM {T} "
        "WHERE kind = 'run' AND ts >= :since AND ts <= :now GROUP BY journey",
        params,
    )
    return {
        r["journey"]: {
            key: {"ratio": None if r[f"r{key}"] is None else float(r[f"r{key}"]),
                  "runs": int(r[f"n{key}"])}
            for key in SLO_WINDOWS
        }
        for r in rows
    }


def daily_uptime(store: EventStore, start: datetime, end: datetime) -> dict[str, dict[datetime, tuple[float, int]]]:
    """Per journey and UTC day in [start, end): the success ratio and the runs."""
    d = store.dialect
    rows = store.query(
        f"SELECT journey, {d.bucket('ts', DAY)} AS day, avg(success) AS ratio, count(*) AS runs "
        f"FROM {T} WHERE kind = 'run' AND ts >= :start AND ts < :end GROUP BY 1, 2",
        {"start": start, "end": end},
    )
    days: dict[str, dict[datetime, tuple[float, int]]] = {}
    for r in rows:
        days.setdefault(r["journey"], {})[r["day"]] = (float(r["ratio"]), int(r["runs"]))
    return days


def recent_runs(
    store: EventStore,
    *,
    start: datetime,
    end: datetime,
    journey: str | None = None,
    location: str | None = None,
    failed_only: bool = False,
    limit: int = 50,
) -> list[dict[str, Any]]:
    """The newest runs in [start, end), newest first, each with its steps."""
    filters = "".join(
        f" AND {column} = :{column}" for column, v in (("journey", journey), ("location", location)) if v
    )
    only_failed = " AND success = 0" if failed_only else ""
    params: dict[str, Any] = {"start": start, "end": end, "journey": journey,
                              "location": location, "limit": limit}
    runs = store.query(
        f"SELECT ts, run_id, journey, location, site_id, success, duration, error, props FROM {T} "
        f"WHERE kind = 'run' AND ts >= :start AND ts < :end{filters}{only_failed} "
        "ORDER BY ts DESC, run_id LIMIT :limit",
        {k: v for k, v in params.items() if v is not None},
    )
    if not runs:
        return []
    ids = {r["run_id"] for r in runs}
    oldest = min(r["ts"] for r in runs)
    steps: dict[str, list[dict[str, Any]]] = {}
    for s in store.query(
        f"SELECT run_id, ts, kind, step, success, duration, error, props FROM {T} "
        f"WHERE kind NOT IN ('run', 'state') AND ts >= :oldest AND ts < :end{filters} ORDER BY ts, step",
        {k: v for k, v in {**params, "oldest": oldest}.items()
         if v is not None and k not in ("start", "limit")},
    ):
        if s["run_id"] in ids:
            steps.setdefault(s["run_id"], []).append({
                "name": s["step"], "kind": s["kind"], "success": bool(s["success"]),
                "duration": s["duration"], "error": s["error"], "details": _json(s["props"]),
            })
    return [
        {
            "run_id": r["run_id"], "journey": r["journey"], "location": r["location"],
            "site_id": r["site_id"], "started": r["ts"], "success": bool(r["success"]),
            "duration": r["duration"], "error": r["error"], **_json(r["props"]),
            "steps": steps.get(r["run_id"], []),
        }
        for r in runs
    ]


def last_seen(store: EventStore, since: datetime) -> dict[str, datetime]:
    rows = store.query(
        f"SELECT location, max(ts) AS last FROM {T} WHERE kind = 'run' AND ts >= :since "
        "GROUP BY location",
        {"since": since},
    )
    return {r["location"]: r["last"] for r in rows}


def latest_outcomes(store: EventStore, since: datetime, per_series: int) -> list[dict[str, Any]]:
    """The last ``per_series`` runs of each (journey, location) since ``since``, oldest
    first: enough to rebuild consecutive-failure counts after a restart."""
    return store.query(
        f"SELECT journey, location, ts, success, error FROM ("
        f"  SELECT journey, location, ts, success, error, row_number() OVER "
        f"    (PARTITION BY journey, location ORDER BY ts DESC) AS n "
        f"  FROM {T} WHERE kind = 'run' AND ts >= :since) recent "
        "WHERE n <= :k ORDER BY ts",
        {"since": since, "k": per_series},
    )


def _json(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str | bytes):
        return dict(orjson.loads(value))
    return dict(value)
