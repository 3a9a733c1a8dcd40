"""/health, /ready, /metrics and /openapi.json, on both storage backends."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from tests.conftest import ADMIN
from tests.servers import PostgresServer, missing


def test_health_answers(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_ready_when_both_stores_answer(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json() == {"status": "ready", "checks": {"records": "ok", "events": "ok"}}


@pytest.mark.postgres
def test_not_ready_when_the_database_is_gone(settings_for, postgres_server: PostgresServer) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for("postgres")
    with TestClient(create_app(settings)) as client:
        assert client.get("/ready").status_code == 200
        postgres_server.drop_database(settings.storage.database_url.get_secret_value())
        response = client.get("/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["checks"]["records"].startswith("error")
        assert body["checks"]["events"].startswith("error")
        assert client.get("/health").status_code == 200  # alive, just not ready


def test_red_metrics_use_route_templates(client: TestClient) -> None:
    client.get("/health")
    client.get("/api/v1/events/series", params={"site": "default"}, headers=ADMIN)
    client.get("/users/12345/secret")  # unmatched paths must not become labels
    client.request("BREW12345", "/health")  # nor invented methods
    text = client.get("/metrics").text

    assert 'leadwatch_http_requests_total{method="GET",route="/health",status="200"} 1.0' in text
    assert 'route="/api/v1/events/series",status="200"' in text
    assert 'leadwatch_http_requests_total{method="GET",route="<unmatched>",status="404"} 1.0' in text
    assert "12345" not in text
    assert 'leadwatch_http_requests_total{method="other",route="/health",status="405"} 1.0' in text
    assert 'leadwatch_http_request_duration_seconds_bucket{le="0.5",method="GET",route="/health"}' in text
    assert "leadwatch_http_requests_in_flight 1.0" in text  # the scrape itself
    assert 'leadwatch_write_buffer_depth{table="events"}' in text


def test_metrics_pass_promtool(client: TestClient) -> None:
    """Prometheus's own linter accepts the exposition (names, units, help, types)."""
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("promtool not installed (apt-get install prometheus)")
    client.get("/health")
    result = subprocess.run([promtool, "check", "metrics"], input=client.get("/metrics").text,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_request_ids(client: TestClient) -> None:
    generated = client.get("/health").headers["x-request-id"]
    assert len(generated) == 32
    assert client.get("/health", headers={"X-Request-ID": "abc-123"}).headers["x-request-id"] == "abc-123"
    replaced = client.get("/health", headers={"X-Request-ID": "bad id\twith junk"}).headers["x-request-id"]
    assert replaced != "bad id\twith junk" and len(replaced) == 32


def test_openapi_documents_the_api_and_its_errors(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    assert {"/health", "/ready", "/metrics", "/api/v1/events", "/api/v1/events/series"} <= set(doc["paths"])
    post = doc["paths"]["/api/v1/events"]["post"]
    assert post["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorEnvelope")
    assert "ErrorEnvelope" in doc["components"]["schemas"]
    assert doc["info"]["license"]["identifier"] == "AGPL-3.0-or-later"


def test_the_api_root_links_what_exists(client: TestClient) -> None:
    links = client.get("/").json()["links"]
    for path in links.values():
        assert client.get(path, headers=ADMIN).status_code != 404, path
