"""Building blocks of Grafana dashboard JSON: data sources, panels and a layout.

Only what leadwatch's dashboards use is modelled; every panel names its data source
by a fixed uid, which the generated provisioning file creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROMETHEUS = {"type": "prometheus", "uid": "leadwatch-prometheus"}
POSTGRES = {"type": "grafana-postgresql-datasource", "uid": "leadwatch-postgres"}
SCHEMA_VERSION = 39
WIDTH = 24  # Grafana's grid is 24 columns wide


@dataclass(frozen=True)
class Query:
    """A PromQL expression (``legend`` names its series) or, with ``sql``, a PostgreSQL query."""

    expr: str
    legend: str = ""
    sql: bool = False

    def target(self, ref: str) -> dict[str, Any]:
        if self.sql:
            return {"datasource": POSTGRES, "refId": ref, "rawQuery": True, "editorMode": "code",
                    "format": "time_series" if "$__timeGroupAlias" in self.expr else "table",
                    "rawSql": self.expr}
        return {"datasource": PROMETHEUS, "refId": ref, "expr": self.expr,
                "legendFormat": self.legend or "__auto", "range": True}


@dataclass(frozen=True)
class Panel:
    title: str
    kind: str  # stat, timeseries, barchart, piechart, table, bargauge
    queries: tuple[Query, ...]
    unit: str = "short"
    width: int = 6
    height: int = 8
    description: str = ""
    # (value, colour) steps from the bottom: the first value is None (the base colour).
    steps: tuple[tuple[float | None, str], ...] = ((None, "green"),)
    stacked: bool = False
    options: dict[str, Any] = field(default_factory=dict)

    def json(self, panel_id: int, x: int, y: int) -> dict[str, Any]:
        sources = {q.sql for q in self.queries}
        defaults: dict[str, Any] = {
            "unit": self.unit,
            "thresholds": {"mode": "absolute", "steps": [
                {"value": v, "color": c} for v, c in self.steps
            ]},
        }
        if self.kind == "timeseries":
            defaults["custom"] = {"fillOpacity": 10, "showPoints": "never",
                                  "stacking": {"mode": "normal" if self.stacked else "none"}}
        if self.kind == "stat":
            defaults["color"] = {"mode": "thresholds"}
        return {
            "id": panel_id,
            "type": self.kind,
            "title": self.title,
            "description": self.description,
            "datasource": POSTGRES if sources == {True} else PROMETHEUS,
            "gridPos": {"x": x, "y": y, "w": self.width, "h": self.height},
            "fieldConfig": {"defaults": defaults, "overrides": []},
            "options": self.options,
            "targets": [q.target(chr(ord("A") + i)) for i, q in enumerate(self.queries)],
        }


@dataclass(frozen=True)
class Row:
    title: str
    panels: tuple[Panel, ...]


@dataclass(frozen=True)
class Dashboard:
    uid: str
    title: str
    description: str
    rows: tuple[Row, ...]
    tags: tuple[str, ...] = ("leadwatch",)
    time_from: str = "now-24h"

    def queries(self) -> list[Query]:
        return [q for row in self.rows for p in row.panels for q in p.queries]

    def json(self) -> dict[str, Any]:
        panels: list[dict[str, Any]] = []
        y = 0
        next_id = 1
        for row in self.rows:
            panels.append({"id": next_id, "type": "row", "title": row.title, "collapsed": False,
                           "gridPos": {"x": 0, "y": y, "w": WIDTH, "h": 1}, "panels": []})
            next_id += 1
            y += 1
            x, row_height = 0, 0
            for panel in row.panels:
                if x + panel.width > WIDTH:
                    x, y, row_height = 0, y + row_height, 0
                panels.append(panel.json(next_id, x, y))
                next_id += 1
                x += panel.width
                row_height = max(row_height, panel.height)
            y += row_height
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": list(self.tags),
            "timezone": "utc",
            "editable": False,
            "graphTooltip": 1,
            "refresh": "1m",
            "schemaVersion": SCHEMA_VERSION,
            "time": {"from": self.time_from, "to": "now"},
            "templating": {"list": []},
            "annotations": {"list": []},
            "links": [],
            "panels": panels,
        }
