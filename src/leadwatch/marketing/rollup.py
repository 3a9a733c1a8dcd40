"""Analytics added up from UTC days, closed days read from a rollup.

Visitor keys rotate daily (cookieless), so a visitor is a (day, key) pair, and so is
a session (a key's session ends with its day). Distinct visitors and sessions of
different days are then different, and a range's counts are the sums of its days'
counts: exactly, not approximately. A *measure* (the traffic, a funnel, conversion by
vitals rating) computes the rows of one day or part of one; ``daily`` gives a scope's
rows: closed whole days from the ``analytics_days`` table (see store/schema.py), the
open day, the partial days at the scope's ends and filtered scopes measured live.

A stored day is filled the first time it is read and recomputed when its events
changed since (late writes, imports, deletions): it keeps the fingerprint of its
events (their number and the sum of their epoch seconds), and one grouped count over
the scope gives the current ones. A live measurement is reused while its events'
fingerprint holds, so the panels of one page measure the open day once.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from weakref import WeakKeyDictionary

from leadwatch.store.events import EventStore
from leadwatch.store.schema import ANALYTICS_DAYS, utcnow

if TYPE_CHECKING:
    from leadwatch.marketing.analytics import Scope

DAY = timedelta(days=1)
LIVE_CACHE_SIZE = 64
Fingerprint = tuple[float, float]
T = TypeVar("T")


@dataclass(frozen=True)
class Row:
    """One day's counts for one label of one dimension of a measure."""

    day: datetime
    dimension: str
    label: Any
    pageviews: int = 0
    visitors: int = 0
    sessions: int = 0
    submitters: int = 0  # sessions with a form submission


@dataclass(frozen=True)
class Measure:
    """``compute(events, piece)`` gives the rows of a piece of one UTC day. ``name``
    identifies the measure and its definition in the rollup (a funnel's pages are part
    of its name); ``integer_labels`` lists the dimensions whose labels are numbers."""

    name: str
    compute: Callable[[EventStore, Scope], list[Row]]
    integer_labels: tuple[str, ...] = ()


def daily(events: EventStore, scope: Scope, measure: Measure, now: datetime | None = None) -> list[Row]:
    """The rows of ``scope``, day by day: closed whole days from the rollup (when the
    scope has no filters), the other days with events measured live."""
    now = now or utcnow()
    prints = fingerprints(events, scope)
    closed = [day for day in sorted(prints)
              if not scope.filters and day >= scope.start and day + DAY <= min(scope.end, now)]
    rows = rolled_up(events, scope, measure, closed, prints) if closed else []
    for day in sorted(prints.keys() - set(closed)):
        piece = replace(scope, start=max(scope.start, day), end=min(scope.end, day + DAY))
        rows += _live(events, piece, measure, prints[day])
    return rows


# Within ``snapshot()``: what was already read, by what and from where.
_snapshot: ContextVar[dict[Any, Any] | None] = ContextVar("analytics_snapshot", default=None)


@contextmanager
def snapshot() -> Iterator[None]:
    """Within this block (a UI page), each reading of the stores made through
    ``once`` (the events' fingerprints of a scope, its leads) happens once: the page's
    panels answer from one reading and share its live pieces."""
    token = _snapshot.set({})
    try:
        yield
    finally:
        _snapshot.reset(token)


def once(key: Any, read: Callable[[], T]) -> T:
    """``read()``, once per ``key`` within a snapshot (every time outside one)."""
    memo = _snapshot.get()
    if memo is None:
        return read()
    if key not in memo:
        memo[key] = read()
    return memo[key]  # type: ignore[no-any-return]


def fingerprints(events: EventStore, scope: Scope) -> dict[datetime, Fingerprint]:
    """Per UTC day of the scope with events (whatever the scope's filters): their
    number and the sum of their epoch seconds."""
    return once(("fingerprints", events, scope.site_id, scope.start, scope.end), lambda: _fingerprints(events, scope))


def _fingerprints(events: EventStore, scope: Scope) -> dict[datetime, Fingerprint]:
    where, params = replace(scope, filters=()).where()
    rows = events.query(
        # Integer seconds: their sum is exact whatever the order the rows are added in.
        "SELECT CAST(ts AS DATE) AS day, count(*) AS n, sum(CAST(EXTRACT(EPOCH FROM ts) AS BIGINT)) AS seconds "
        f"FROM events WHERE {where} GROUP BY 1",
        params,
    )
    return {datetime.combine(r["day"], time()): (float(r["n"]), float(r["seconds"])) for r in rows}


def rolled_up(
    events: EventStore, scope: Scope, measure: Measure, days: list[datetime], prints: dict[datetime, Fingerprint]
) -> list[Row]:
    """The rows of closed whole ``days`` from the rollup; days missing from it or whose
    events changed since are measured now and stored."""
    stored: dict[datetime, list[dict[str, Any]]] = defaultdict(list)
    for r in events.query(
        f"SELECT * FROM {ANALYTICS_DAYS.name} WHERE site_id = :site AND day >= :first AND day <= :last "
        "AND measure = :measure",
        {"site": scope.site_id, "first": days[0], "last": days[-1], "measure": measure.name},
    ):
        stored[r["day"]].append(r)
    rows: list[Row] = []
    for day in days:
        source = next((r for r in stored[day] if r["dimension"] == "source"), None)
        if source is not None and (source["source_rows"], source["source_ts"]) == prints[day]:
            rows += [_from_stored(day, r, measure) for r in stored[day] if r is not source]
            continue
        measured = measure.compute(events, replace(scope, start=day, end=day + DAY))
        rows += measured
        events.replace_rows(
            ANALYTICS_DAYS, "site_id = :site AND day = :day AND measure = :measure",
            {"site": scope.site_id, "day": day, "measure": measure.name},
            [(scope.site_id, day, measure.name, "source", None, None, None, None, None, *prints[day]),
             *(_to_stored(scope.site_id, measure, r) for r in measured)],
        )
    return rows


def _to_stored(site_id: str, measure: Measure, r: Row) -> tuple[Any, ...]:
    label = None if r.label is None else str(r.label)
    return (site_id, r.day, measure.name, r.dimension, label, r.pageviews, r.visitors, r.sessions,
            r.submitters, None, None)


def _from_stored(day: datetime, r: dict[str, Any], measure: Measure) -> Row:
    label = r["label"]
    if label is not None and r["dimension"] in measure.integer_labels:
        label = int(label)
    return Row(day, r["dimension"], label, int(r["pageviews"]), int(r["visitors"]), int(r["sessions"]),
               int(r["submitters"]))


# Per store: live measurements by (measure, piece, fingerprint), most recent last. A
# Future, so that panels measuring the same piece at once wait for one measurement.
_live_cache: WeakKeyDictionary[EventStore, OrderedDict[Any, Future[list[Row]]]] = WeakKeyDictionary()
_live_lock = threading.Lock()


def _live(events: EventStore, piece: Scope, measure: Measure, fingerprint: Fingerprint) -> list[Row]:
    key = (measure.name, piece, fingerprint)
    with _live_lock:
        cache = _live_cache.setdefault(events, OrderedDict())
        found = cache.get(key)
        if found is None:
            found = cache[key] = Future()
            while len(cache) > LIVE_CACHE_SIZE:
                cache.popitem(last=False)
            mine = True
        else:
            cache.move_to_end(key)
            mine = False
    if mine:
        try:
            found.set_result(measure.compute(events, piece))
        except BaseException as error:
            with _live_lock:
                cache.pop(key, None)
            found.set_exception(error)  # for the panels waiting on it
            raise
    return found.result()


def day_of(at: datetime) -> datetime:
    return datetime.combine(at.date(), time())
