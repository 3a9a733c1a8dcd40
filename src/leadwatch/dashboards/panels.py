"""What every page is made of: a stat tile with its status, and a health check row."""

from __future__ import annotations

from dataclasses import dataclass

from leadwatch.dashboards.status import Status


@dataclass(frozen=True)
class Tile:
    """One number with its status colour; ``detail`` says what it measures."""

    label: str
    text: str
    status: Status
    detail: str = ""


@dataclass(frozen=True)
class Check:
    """One cell of the service health matrix: a service's check, up or down."""

    service: str
    check: str
    up: bool
    detail: str


def percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value * 100:.{digits}f} %"


def seconds(value: float | None) -> str:
    if value is None:
        return "–"
    if value < 1:
        return f"{value * 1000:.0f} ms"
    if value < 120:
        return f"{value:.1f} s"
    if value < 7200:
        return f"{value / 60:.0f} min"
    if value < 172_800:
        return f"{value / 3600:.1f} h"
    return f"{value / 86_400:.1f} d"


def count(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:,.0f}" if value >= 100 or value == int(value) else f"{value:.2f}"


def rate(value: float | None, unit: str = "/s") -> str:
    return "–" if value is None else f"{value:,.2f}{unit}" if value < 100 else f"{value:,.0f}{unit}"


def byte_rate(value: float | None) -> str:
    if value is None:
        return "–"
    for unit in ("B/s", "KB/s", "MB/s"):
        if value < 1000:
            return f"{value:.0f} {unit}"
        value /= 1000
    return f"{value:.1f} GB/s"
