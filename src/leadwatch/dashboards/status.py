"""Green / yellow / red: where a number stands against its threshold from settings."""

from __future__ import annotations

from typing import Literal

from leadwatch.settings import Threshold

Status = Literal["ok", "warn", "critical", "unknown"]
LABELS: dict[str, str] = {
    "ok": "within target",
    "warn": "needs attention",
    "critical": "critical",
    "unknown": "no data",
}


def status(value: float | None, threshold: Threshold) -> Status:
    """``critical`` above ``threshold.critical`` (or below, when lower is worse), else
    ``warn`` past ``threshold.warn``, else ``ok``; ``unknown`` without a value."""
    if value is None:
        return "unknown"
    sign = 1 if threshold.critical > threshold.warn else -1
    if sign * value >= sign * threshold.critical:
        return "critical"
    if sign * value >= sign * threshold.warn:
        return "warn"
    return "ok"
