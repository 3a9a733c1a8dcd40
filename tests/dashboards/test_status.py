from __future__ import annotations

import pytest

from leadwatch.dashboards.status import status
from leadwatch.settings import ConfigError, Threshold, load_settings


@pytest.mark.parametrize(("value", "expected"), [
    (None, "unknown"), (0.0, "ok"), (0.0099, "ok"), (0.01, "warn"), (0.049, "warn"),
    (0.05, "critical"), (1.0, "critical"),
])
def test_higher_is_worse_when_critical_is_above_warn(value, expected) -> None:  # type: ignore[no-untyped-def]
    assert status(value, Threshold(warn=0.01, critical=0.05)) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (0.04, "ok"), (0.03, "warn"), (0.02, "warn"), (0.015, "critical"), (0.0, "critical"),
])
def test_lower_is_worse_when_critical_is_below_warn(value, expected) -> None:  # type: ignore[no-untyped-def]
    assert status(value, Threshold(warn=0.03, critical=0.015)) == expected


def test_settings_merge_thresholds_over_the_defaults_and_refuse_unknown_names() -> None:
    s = load_settings(None, dashboards={"thresholds": {"cpu_percent": {"warn": 50, "critical": 60}}})
    assert s.dashboards.thresholds["cpu_percent"] == Threshold(warn=50, critical=60)
    assert s.dashboards.thresholds["error_rate"] == Threshold(warn=0.01, critical=0.05)
    with pytest.raises(ConfigError, match="dashboards.thresholds.*unknown thresholds"):
        load_settings(None, dashboards={"thresholds": {"cpu": {"warn": 1, "critical": 2}}})
    with pytest.raises(ConfigError, match="warn and critical must differ"):
        load_settings(None, dashboards={"thresholds": {"cpu_percent": {"warn": 1, "critical": 1}}})
