"""A standalone leadwatch stopped and started again keeps its SLO figures and the
Technical Operations page's history (data_dir/history/); stack-mode replicas keep
no snapshot file at all."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.runtime import Runtime
from leadwatch.settings import Settings
from leadwatch.store.snapshots import SnapshotService
from tests.conftest import ADMIN

PERIOD_FIGURES = ("sli_percent", "error_ratio", "period_burn_rate", "error_budget_remaining_ratio")


def _evaluated_once(runtime: Runtime) -> None:
    """Wait for the evaluator's first sample (taken as its thread starts), so the
    samples below are the test's own."""
    deadline = time.monotonic() + 30
    while not runtime.metrics.registry.get_sample_value("leadwatch_alert_evaluations_total"):
        assert time.monotonic() < deadline, "the evaluator never ran"
        time.sleep(0.05)


def _slos(client: TestClient) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in client.get("/api/v1/slos", headers=ADMIN).json()["slos"]}


def test_slo_figures_and_the_ops_history_survive_a_restart(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded")
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        _evaluated_once(runtime)
        for _ in range(2):
            for path in ("/api/v1/alerts", "/api/v1/incidents", "/no-such-page"):
                client.get(path, headers=ADMIN)
            # A failing request, as the HTTP middleware counts one (leadwatch has no route that fails on demand).
            runtime.metrics.http_requests.labels("POST", "/api/leads", "500").inc()
            runtime.alerting.sample()
        before = _slos(client)
        oldest = runtime.metrics_history.oldest
    assert before["availability"]["sli_percent"] is not None and before["availability"]["sli_percent"] < 100
    assert before["latency"]["sli_percent"] is not None
    assert sorted(p.name for p in (settings.storage.data_dir / "history").iterdir()) == [
        "alerting.snap", "dashboards.snap"]

    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        _evaluated_once(runtime)
        after = _slos(client)
        assert runtime.metrics_history.oldest == oldest  # the page's charts start where they did
    for name in ("availability", "latency"):
        for figure in PERIOD_FIGURES:
            assert after[name][figure] == pytest.approx(before[name][figure]), (name, figure)


@pytest.mark.postgres
def test_stack_mode_replicas_keep_no_snapshot(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("postgres")
    with Runtime(settings) as runtime:
        assert not any(isinstance(s, SnapshotService) for s in runtime.services)
        runtime.start()
    assert not (settings.storage.data_dir / "history").exists()


def test_without_the_embedded_evaluator_only_the_ops_history_is_kept(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded", alerting={"embedded_evaluator": False})
    with Runtime(settings) as runtime:
        runtime.start()
    assert [p.name for p in (settings.storage.data_dir / "history").iterdir()] == ["dashboards.snap"]
