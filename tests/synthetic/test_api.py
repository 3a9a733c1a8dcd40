"""The synthetic API, status page, metrics and queries, on both storage backends."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.auth import create_token
from leadwatch.settings import Settings
from leadwatch.store.schema import PROBE_RESULTS, utcnow
from leadwatch.synthetic import queries
from leadwatch.synthetic.marker import verify_marker
from leadwatch.synthetic.results import RunResult, StepResult
from tests.conftest import ADMIN

JOURNEY = """
name: shop
title: Shop checkout
frequency: 1m
slo: 99
thresholds: {warning: 2, critical: 3}
steps:
  - name: home
    http: {url: "https://shop.example.test/"}
  - name: cert
    tls: {host: shop.example.test}
"""


@pytest.fixture
def synthetic_settings(backend: str, settings_for: Callable[..., Settings], tmp_path: Path) -> Settings:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "shop.yaml").write_text(JOURNEY)
    return settings_for(backend, synthetic={
        "enabled": False, "default_journeys": False, "journeys_dir": str(journeys),
        "status_title": "Example Status", "dead_after_seconds": 120,
    })


@pytest.fixture
def app_client(synthetic_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(synthetic_settings)) as client:
        yield client


@pytest.fixture
def ingest(app_client: TestClient) -> dict[str, str]:
    with app_client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        _, plain = create_token(session, "probe", "ingest")
    return {"Authorization": f"Bearer {plain}"}


def result(success: bool, location: str = "europe", started: Any = None, **extra: Any) -> dict[str, Any]:
    steps = [StepResult(name="home", kind="http", success=True, duration=0.1, details={"status": 200}),
             StepResult(name="cert", kind="tls", success=success, duration=0.05,
                         error=None if success else "certificate expired",
                         details={"target": "shop.example.test:443", "expiry_seconds": 86400.0 * (30 if success else -1)})]
    return RunResult(
        run_id=f"r{utcnow().timestamp()}{location}{success}".replace(".", ""), journey="shop",
        site_id="default", location=location, started=started or utcnow(), duration=0.15,
        success=success, error=None if success else "cert: certificate expired", steps=steps,
    ).model_dump(mode="json") | extra


def push(client: TestClient, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/api/v1/synthetic/results", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return dict(response.json())


def flush(client: TestClient) -> None:
    client.app.state.runtime.synthetic.buffer.flush()  # type: ignore[attr-defined]


def test_pushed_results_drive_state_thresholds_metrics_and_runs(app_client: TestClient, ingest: dict[str, str]) -> None:
    states = [push(app_client, ingest, result(ok))["state"] for ok in (True, False, False, False, True)]
    assert states == ["up", "pending", "down", "down", "recovered"]
    flush(app_client)

    body = app_client.get("/api/v1/synthetic/journeys", headers=ADMIN).json()
    (shop,) = body["journeys"]
    assert shop["state"] == "recovered" and shop["by_location"]["europe"]["consecutive_failures"] == 0
    assert shop["success_ratio"]["1h"] == {"ratio": 0.4, "runs": 5, "meets_slo": False}

    runs = app_client.get("/api/v1/synthetic/runs", params={"failed": True}, headers=ADMIN).json()["runs"]
    assert len(runs) == 3 and all(not r["success"] for r in runs)
    assert [s["name"] for s in runs[0]["steps"]] == ["home", "cert"]
    assert runs[0]["steps"][1]["error"] == "certificate expired"

    metrics = app_client.get("/metrics").text
    assert 'leadwatch_probe_success{journey="shop",location="europe"} 1.0' in metrics
    assert 'leadwatch_probe_duration_seconds{journey="shop",location="europe",step="cert"} 0.05' in metrics
    assert 'leadwatch_probe_tls_expiry_seconds{target="shop.example.test:443"} 2.592e+06' in metrics
    assert 'leadwatch_probe_state{journey="shop",location="europe",state="recovered"} 1.0' in metrics
    assert 'leadwatch_probe_runs_total{journey="shop",location="europe",result="failure"} 3.0' in metrics


def test_critical_fires_at_exactly_the_third_failure(app_client: TestClient, ingest: dict[str, str]) -> None:
    def severity() -> Any:
        body = app_client.get("/api/v1/synthetic/journeys", headers=ADMIN).json()
        return body["journeys"][0]["by_location"]["us-west"]["severity"]

    seen = []
    for _ in range(3):
        push(app_client, ingest, result(False, location="us-west"))
        seen.append(severity())
    assert seen == [None, "warning", "critical"]


def test_state_survives_a_restart(synthetic_settings: Settings) -> None:
    with TestClient(create_app(synthetic_settings)) as client:
        for ok in (True, False, False):
            push(client, ADMIN, result(ok))
    with TestClient(create_app(synthetic_settings)) as client:
        shop = client.get("/api/v1/synthetic/journeys", headers=ADMIN).json()["journeys"][0]
    assert shop["by_location"]["europe"]["state"] == "down"
    assert shop["by_location"]["europe"]["consecutive_failures"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"location": "mars"}, "body.location"),
        ({"journey": "nope"}, "body.journey"),
        ({"site_id": "other"}, "body.site_id"),
        ({"duration": -1}, "body.duration"),
        ({"steps": [{"name": "x", "kind": "ftp", "success": True, "duration": 1}]}, "body.steps[0].kind"),
    ],
)
def test_bad_pushes_are_refused_naming_the_field(app_client: TestClient, ingest: dict[str, str],
                                                 change: dict[str, Any], field: str) -> None:
    response = app_client.post("/api/v1/synthetic/results", json=result(True) | change, headers=ingest)
    assert response.status_code == 422
    assert field in response.json()["error"]["fields"]


def test_auth(app_client: TestClient, ingest: dict[str, str]) -> None:
    assert app_client.post("/api/v1/synthetic/results", json=result(True)).status_code == 401
    assert app_client.get("/api/v1/synthetic/journeys", headers=ingest).status_code == 403
    assert app_client.get("/api/v1/synthetic/runs", headers=ingest).status_code == 403
    assert app_client.get("/api/v1/synthetic/runs", params={"journey": "nope"}, headers=ADMIN).status_code == 404


def test_probe_config_and_the_dead_man_switch(app_client: TestClient, ingest: dict[str, str]) -> None:
    runtime = app_client.app.state.runtime  # type: ignore[attr-defined]
    response = app_client.get("/api/v1/synthetic/probe", params={"location": "us-west"}, headers=ingest)
    assert response.status_code == 200
    config = response.json()
    assert [j["name"] for j in config["journeys"]] == ["shop"]
    assert verify_marker(runtime.secret_key, config["marker"]) == config["marker_id"]
    assert app_client.get("/api/v1/synthetic/probe", params={"location": "mars"},
                          headers=ingest).json()["error"]["fields"] == {
        "query.location": "must be one of us-east, us-west, europe"}

    def statuses() -> dict[str, str]:
        body = app_client.get("/api/v1/synthetic/locations", headers=ADMIN).json()
        return {loc["location"]: loc["status"] for loc in body["locations"]}

    assert statuses() == {"us-east": "unknown", "us-west": "up", "europe": "unknown"}
    real_now = runtime.synthetic.now
    runtime.synthetic.now = lambda: real_now() + timedelta(seconds=121)
    assert statuses()["us-west"] == "down"
    runtime.synthetic.check_locations()
    assert 'leadwatch_probe_location_up{location="us-west"} 0.0' in app_client.get("/metrics").text


def test_the_status_page_is_public_with_state_and_90_day_bars(app_client: TestClient, ingest: dict[str, str]) -> None:
    yesterday = utcnow() - timedelta(days=1)
    push(app_client, ingest, result(True, started=yesterday))
    push(app_client, ingest, result(False, started=yesterday + timedelta(minutes=1)))
    push(app_client, ingest, result(True))
    flush(app_client)
    response = app_client.get("/status")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    html = response.text
    assert "<title>Example Status</title>" in html and "Shop checkout" in html
    assert "Operational" in html and "<script" not in html and "http" not in html.split("<main>")[1].split("Updated")[0]
    bars = re.findall(r'<span class="(\w*)" title="([^"]+)"></span>', html)
    assert len(bars) == 90
    assert bars[-1][0] == "full" and "100.00% of 1 checks" in bars[-1][1]
    assert bars[-2][0] == "low" and "50.00% of 2 checks" in bars[-2][1]
    assert bars[0] == ("", f"{(utcnow() - timedelta(days=89)):%Y-%m-%d}: no data")


def test_the_status_page_can_be_turned_off(backend: str, settings_for: Callable[..., Settings]) -> None:
    settings = settings_for(backend, synthetic={"enabled": False, "status_page": False})
    with TestClient(create_app(settings)) as client:
        assert client.get("/status").status_code == 404


def test_success_ratios_per_window(app_client: TestClient) -> None:
    runtime = app_client.app.state.runtime  # type: ignore[attr-defined]
    now = utcnow()
    rows = []
    for age, ok in ((timedelta(minutes=5), True), (timedelta(minutes=30), False),
                    (timedelta(hours=5), True), (timedelta(days=3), False), (timedelta(days=40), False)):
        rows += RunResult.model_validate(result(ok, started=now - age)).rows()
    runtime.events.write_batch(PROBE_RESULTS, rows)
    ratios = queries.success_ratios(runtime.events, now)["shop"]
    assert ratios == {"1h": {"ratio": 0.5, "runs": 2}, "24h": {"ratio": 2 / 3, "runs": 3},
                      "30d": {"ratio": 0.5, "runs": 4}}
