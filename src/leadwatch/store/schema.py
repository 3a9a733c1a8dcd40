"""Declarative description of the append-only event tables.

One spec per table drives the DDL of both backends, the Arrow schema of DuckDB
batches and the spill-file encoding, so a column is added in exactly one place.
All timestamps are naive UTC (``TIMESTAMP`` in both databases) so that time
bucketing gives identical answers on DuckDB and PostgreSQL. Rows are tuples in
column order, already in storage form: a ``json`` column holds JSON text, encoded
once where the row is made (at ingest) rather than in the single writer thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any, Literal

import orjson

Kind = Literal["text", "timestamp", "double", "json"]


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    # Columns (in order) of the index PostgreSQL keeps; DuckDB relies on zone maps.
    index: tuple[str, ...] = ()

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


EVENTS = Table(
    "events",
    (
        Column("site_id", "text", nullable=False),
        Column("ts", "timestamp", nullable=False),
        Column("type", "text", nullable=False),
        Column("name", "text"),
        Column("visitor_id", "text"),
        Column("session_id", "text"),
        Column("path", "text"),
        Column("referrer", "text"),
        Column("channel", "text"),
        Column("country", "text"),
        Column("device", "text"),
        Column("browser", "text"),
        Column("os", "text"),
        Column("value", "double"),
        Column("props", "json"),
    ),
    index=("site_id", "ts"),
)

# The analytics' daily rollup of ``events`` (leadwatch/marketing/rollup.py): per site,
# closed UTC day and ``measure`` (traffic, a funnel, conversion by vitals rating), the
# measure's counts per ``dimension`` and ``label`` (an hour, a channel, a funnel step).
# Visitor keys rotate daily, so a day's distinct visitors and sessions add up across
# days exactly. Each day and measure has one ``source`` row with the fingerprint of the
# events it was computed from (``source_rows``, ``source_ts``: their number and the sum
# of their epoch seconds); a day whose events changed since is recomputed when read.
ANALYTICS_DAYS = Table(
    "analytics_days",
    (
        Column("site_id", "text", nullable=False),
        Column("day", "timestamp", nullable=False),
        Column("measure", "text", nullable=False),
        Column("dimension", "text", nullable=False),
        Column("label", "text"),
        Column("pageviews", "double"),
        Column("visitors", "double"),
        Column("sessions", "double"),
        Column("submitters", "double"),
        Column("source_rows", "double"),
        Column("source_ts", "double"),
    ),
    index=("site_id", "day"),
)

# Parsed and enriched log records (leadwatch/logs): one column per field that searches
# and dashboards filter on, and in ``props`` the rest of the record's Elastic Common Schema
# document (what no column holds; logs/record.py assembles the whole one on read).
# ``status``, ``duration`` (seconds) and ``bytes`` are numbers so ranges work; ``bot``
# is the text ``true``/``false``; ``threat`` lists the distinct threats, comma-separated.
LOGS = Table(
    "logs",
    (
        Column("site_id", "text", nullable=False),
        Column("ts", "timestamp", nullable=False),
        Column("dataset", "text", nullable=False),
        Column("source_ip", "text"),
        Column("method", "text"),
        Column("path", "text"),
        Column("route", "text"),
        Column("status", "double"),
        Column("duration", "double"),
        Column("bytes", "double"),
        Column("browser", "text"),
        Column("os", "text"),
        Column("device", "text"),
        Column("country", "text"),
        Column("channel", "text"),
        Column("bot", "text"),
        Column("threat", "text"),
        Column("level", "text"),
        Column("message", "text"),
        Column("props", "json"),
    ),
    index=("site_id", "dataset", "ts"),
)

# Synthetic monitoring results (leadwatch/synthetic): one row per journey run
# (``kind`` = ``run``, ``step`` NULL), one per step of it (``kind`` = the step's kind),
# sharing ``run_id``, and one per state transition (``kind`` = ``state``).
# ``success`` is 1.0 or 0.0, so its average over a window is the success ratio;
# ``duration`` is in seconds; ``props`` holds details (status code, vitals, days left).
PROBE_RESULTS = Table(
    "probe_results",
    (
        Column("site_id", "text", nullable=False),
        Column("ts", "timestamp", nullable=False),
        Column("run_id", "text", nullable=False),
        Column("journey", "text", nullable=False),
        Column("location", "text", nullable=False),
        Column("kind", "text", nullable=False),
        Column("step", "text"),
        Column("success", "double", nullable=False),
        Column("duration", "double"),
        Column("error", "text"),
        Column("props", "json"),
    ),
    index=("journey", "ts"),
)


@dataclass(slots=True)
class Event:
    """One row of ``events``: a page view, a Web Vital, a form start, an imported record...

    ``type`` says what happened (``pageview``), ``name`` refines it (``LCP``),
    ``value`` carries its measure (seconds, counts), ``props`` anything else.
    """

    site_id: str
    ts: datetime
    type: str
    name: str | None = None
    visitor_id: str | None = None
    session_id: str | None = None
    path: str | None = None
    referrer: str | None = None
    channel: str | None = None
    country: str | None = None
    device: str | None = None
    browser: str | None = None
    os: str | None = None
    value: float | None = None
    props: dict[str, Any] | None = field(default=None)

    def row(self) -> tuple[Any, ...]:
        *columns, props = _event_columns(self)
        return (*columns, json_text(props))


_event_columns = attrgetter(*(f.name for f in fields(Event)))


def json_text(value: Any) -> str | None:
    """The storage form of a ``json`` column value."""
    return None if value is None else orjson.dumps(value).decode()


def utc_aware(ts: datetime) -> datetime:
    """The API form of a timestamp: aware, in UTC (naive input is taken as UTC)."""
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def utc_naive(ts: datetime) -> datetime:
    """The storage form of a timestamp: UTC without tzinfo (aware input is converted)."""
    if ts.tzinfo is None:
        return ts
    return ts.astimezone(UTC).replace(tzinfo=None)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
