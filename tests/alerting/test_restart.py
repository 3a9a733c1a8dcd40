"""A standalone leadwatch stopped and started again keeps its SLO figures, the
Technical Operations page's history (data_dir/history/) and its firing alerts, whose
incidents go on without paging anyone again; stack-mode replicas keep no snapshot
file at all."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.runtime import Runtime
from leadwatch.settings import Settings
from leadwatch.store.snapshots import SnapshotService
from tests.alerting.receiver import LocalReceiver
from tests.alerting.test_state_restore import incidents, pages
from tests.conftest import ADMIN
from tests.synthetic.sites import wait_until

PERIOD_FIGURES = ("sli_percent", "error_ratio", "period_burn_rate", "error_budget_remaining_ratio")


def _evaluations(runtime: Runtime) -> float:
    return runtime.metrics.registry.get_sample_value("leadwatch_alert_evaluations_total") or 0.0


def _evaluated_once(runtime: Runtime) -> None:
    """Wait for the evaluator's first sample (taken as its thread starts), so the
    samples below are the test's own."""
    wait_until(lambda: _evaluations(runtime), 30, "the evaluator never ran")


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


def _site_down(runtime: Runtime) -> tuple[list[tuple[int, str, list[str]]], list[str]]:
    """SiteDown's incidents and the actions of the pages sent about it."""
    return incidents(runtime), pages(runtime)


def _site_down_alert(client: TestClient) -> list[tuple[str, str]]:
    return [(a["state"], a["active_since"]) for a in client.get("/api/v1/alerts", headers=ADMIN).json()["alerts"]
            if a["labels"]["alertname"] == "SiteDown"]


def test_a_firing_alert_goes_on_firing_across_a_restart_and_pages_nobody_again(
        settings_for: Callable[..., Settings], receiver: LocalReceiver) -> None:
    settings = settings_for(
        alerting={"evaluation_interval_seconds": 1, "site_down_for_seconds": 1},
        notify={"receivers": {"pagerduty-oncall": {"kind": "pagerduty", "routing_key": "rk",
                                                   "url": f"{receiver.url}/pagerduty"}},
                "poll_interval_seconds": 0.2},
    )
    with TestClient(create_app(settings)) as client:
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.synthetic.metrics.success.labels("homepage", "eu").set(0)  # the site is down
        opened = ([(1, "open", ["opened", "escalated"])], ["trigger"])
        wait_until(lambda: _site_down(runtime) == opened, 30, "SiteDown never paged")
        [(state, since)] = _site_down_alert(client)
        assert state == "firing"

    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.synthetic.metrics.success.labels("homepage", "eu").set(0)  # still down
        first = _evaluations(runtime)
        # Long enough for a fresh for to pass: without the restored state, the incident
        # would have been resolved at the first evaluation and a new one opened since.
        wait_until(lambda: _evaluations(runtime) >= first + 3, 30, "the evaluator stopped")
        assert _site_down_alert(client) == [("firing", since)]
        assert _site_down(runtime) == opened
