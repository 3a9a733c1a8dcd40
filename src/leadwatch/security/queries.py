"""Queries over security events (the ``events`` rows of type ``security``), written
once for DuckDB and PostgreSQL through the store's Dialect: counts for the summary,
and the events behind one incident (its evidence)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leadwatch.security.events import EVENT_TYPE
from leadwatch.store.events import EventStore
from leadwatch.store.schema import utc_aware, utc_naive


def security_event_counts(
    store: EventStore, site_id: str | None, start: datetime, end: datetime
) -> dict[str, dict[str, int]]:
    """Security events in [start, end): threat -> action -> count."""
    action = store.dialect.json_field("props", "action")
    site = " AND site_id = :site_id" if site_id else ""
    rows = store.query(
        f"SELECT name AS threat, {action} AS action, count(*) AS n FROM events "
        f"WHERE type = :type AND ts >= :start AND ts < :end{site} GROUP BY 1, 2 ORDER BY 1, 2",
        {"type": EVENT_TYPE, "start": utc_naive(start), "end": utc_naive(end),
         **({"site_id": site_id} if site_id else {})},
    )
    counts: dict[str, dict[str, int]] = {}
    for row in rows:
        counts.setdefault(row["threat"], {})[row["action"]] = int(row["n"])
    return counts


INCIDENT_EVENTS = 100  # the most an incident's page lists: the newest, enough to judge it


def incident_events(
    store: EventStore, site_id: str, ip: str | None, threat: str, first: datetime, last: datetime,
    limit: int = INCIDENT_EVENTS,
) -> list[dict[str, Any]]:
    """The security events of one incident (its site, address and threat, seen from its
    first to its last event), newest first: what was detected, where, by which rule.
    ``ip`` None: events that named no address (none, or an empty one: the incident's
    ``NO_IP`` stands for both)."""
    props = {key: store.dialect.json_field("props", key)
             for key in ("ip", "action", "source", "field", "rule", "evidence", "sample")}
    address = f"{props['ip']} = :ip" if ip is not None else f"COALESCE({props['ip']}, '') = ''"
    rows = store.query(
        f"SELECT ts, path, {props['action']} AS action, {props['source']} AS source, "
        f"{props['field']} AS field, {props['rule']} AS rule, {props['evidence']} AS evidence, "
        f"{props['sample']} AS sample "
        f"FROM events WHERE type = :type AND site_id = :site_id AND name = :threat AND {address} "
        f"AND ts >= :first AND ts <= :last ORDER BY ts DESC LIMIT {int(limit)}",
        {"type": EVENT_TYPE, "site_id": site_id, "threat": threat, "first": utc_naive(first),
         "last": utc_naive(last), **({"ip": ip} if ip is not None else {})},
    )
    # Events keep naive UTC; the API and pages show aware UTC, like the incidents.
    return [{**row, "ts": utc_aware(row["ts"])} for row in rows]
