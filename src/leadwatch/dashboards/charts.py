"""ECharts options, built here as plain data and sent as JSON in ``data-chart``.

The bundled ui.js draws every ``[data-chart]`` element (and redraws after each htmx
swap), so pages carry no inline script and the options are testable as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson

Point = tuple[datetime | float, float | None]


def _ms(ts: datetime | float) -> int:
    """Epoch milliseconds; naive datetimes are UTC (as everywhere in the stores)."""
    if isinstance(ts, datetime):
        return int((ts if ts.tzinfo else ts.replace(tzinfo=UTC)).timestamp() * 1000)
    return int(ts * 1000)


def time_series(
    series: Mapping[str, Iterable[Point]],
    *,
    unit: str = "",
    stacked: bool = False,
    kind: str = "line",
    max_value: float | None = None,
    span: tuple[datetime | float, datetime | float] | None = None,
) -> dict[str, Any]:
    """Lines (or stacked bars) over a UTC time axis; ``unit`` labels the value axis.
    ``span`` pins the time axis to the page's range, so every chart of a page lines up
    and a range with few points is not stretched to ECharts' own guess."""
    y_axis: dict[str, Any] = {"type": "value", "name": unit, "min": 0}
    if max_value is not None:
        y_axis["max"] = max_value
    x_axis: dict[str, Any] = {"type": "time"}
    if span is not None:
        x_axis.update(min=_ms(span[0]), max=_ms(span[1]))
    return {
        "tooltip": {"trigger": "axis"},
        "legend": {"type": "scroll", "bottom": 0},
        "grid": {"left": 50, "right": 16, "top": 28, "bottom": 48},
        "xAxis": x_axis,
        "yAxis": y_axis,
        "series": [
            {
                "name": name,
                "type": kind,
                "showSymbol": False,
                **({"stack": "total"} if stacked else {}),
                "data": [[_ms(ts), None if v is None else round(v, 6)] for ts, v in points],
            }
            for name, points in series.items()
        ],
    }


def bars(labels: Sequence[str], values: Sequence[float], *, unit: str = "") -> dict[str, Any]:
    """Horizontal bars, one per label (categories top to bottom)."""
    return {
        "tooltip": {"trigger": "axis", "axisPointer": {"type": "shadow"}},
        # The unit sits centred under the axis: at the axis end it was cut to "lea".
        "grid": {"left": 8, "right": 24, "top": 8, "bottom": 36 if unit else 24, "containLabel": True},
        "xAxis": {"type": "value", "name": unit, "nameLocation": "middle", "nameGap": 26},
        "yAxis": {"type": "category", "inverse": True, "data": list(labels)},
        "series": [{"type": "bar", "data": [round(v, 6) for v in values]}],
    }


def is_empty(option: dict[str, Any]) -> bool:
    """True when no series has a point: the page says so instead of drawing bare axes."""
    return not any(s.get("data") for s in option.get("series", ()))


def as_json(option: dict[str, Any]) -> str:
    return orjson.dumps(option).decode()
