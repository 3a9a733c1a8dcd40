"""The dashboards benchmark calls the page and API functions directly, so a changed
signature breaks `make bench` without failing any other test: run it once, small."""

from __future__ import annotations

import pytest

from bench import dashboards


def test_the_dashboards_benchmark_runs_every_panel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dashboards, "EVENTS", 20_000)
    monkeypatch.setattr(dashboards, "REPEAT", 1)
    rows = dashboards.run()
    pages = {r["page"] for r in rows if r["panel"] == "full render"}
    assert pages == {"executive", "marketing", "leads", "security", "logs", "ops", "alerts"}
    assert all(r["p50_ms"] is not None and r["p50_ms"] >= 0 for r in rows)
