"""Every client mistake is a 4xx in the one envelope, naming the field at fault."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.auth import create_token
from leadwatch.settings import Settings
from tests.conftest import ADMIN


@pytest.fixture
def client(settings_for) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    settings: Settings = settings_for("embedded", server={"max_body_bytes": 4096})
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        yield c


def envelope(response) -> dict:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    return body["error"]


def test_unknown_route_and_method(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404 and envelope(response)["code"] == "not_found"
    response = client.delete("/health")
    assert response.status_code == 405 and envelope(response)["code"] == "method_not_allowed"


def test_invalid_fields_are_named(client: TestClient) -> None:
    response = client.post("/api/v1/events", headers=ADMIN, json=[
        {"site_id": "default", "type": "pageview"},
        {"site_id": "default", "type": "Page View", "value": "fast", "country": "Germany", "extra": 1},
    ])
    assert response.status_code == 422
    error = envelope(response)
    assert error["code"] == "invalid_request"
    assert set(error["fields"]) == {"body[1].type", "body[1].value", "body[1].country", "body[1].extra"}
    assert "pattern" in error["fields"]["body[1].type"]


def test_malformed_json_is_a_4xx(client: TestClient) -> None:
    response = client.post("/api/v1/events", headers={**ADMIN, "content-type": "application/json"}, content=b"[{")
    assert response.status_code == 422
    assert envelope(response)["fields"]


def test_a_body_over_the_cap_is_413(client: TestClient) -> None:
    big = [{"site_id": "default", "type": "pageview", "path": "/" + "x" * 1000}] * 10
    response = client.post("/api/v1/events", headers=ADMIN, json=big)
    assert response.status_code == 413 and envelope(response)["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it streams
        yield b"["
        for _ in range(10):
            yield b'{"site_id": "default", "type": "pageview", "path": "/' + b"x" * 1000 + b'"},'
        yield b"{}]"

    response = client.post("/api/v1/events", headers={**ADMIN, "content-type": "application/json"}, content=chunks())
    assert response.status_code == 413 and envelope(response)["code"] == "payload_too_large"


def test_tokens_and_scopes(client: TestClient) -> None:
    assert client.get("/api/v1/events/series", params={"site": "default"}).status_code == 401
    response = client.get("/api/v1/events/series", params={"site": "default"}, headers={"Authorization": "Bearer wrong-token"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"

    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.records.session() as session:
        _, ingest = create_token(session, "shipper", "ingest")
    as_ingest = {"Authorization": f"Bearer {ingest}"}
    assert client.post("/api/v1/events", headers=as_ingest, json=[{"site_id": "default", "type": "x"}]).status_code == 202
    response = client.get("/api/v1/events/series", params={"site": "default"}, headers=as_ingest)
    assert response.status_code == 403 and envelope(response)["code"] == "forbidden"


def test_query_mistakes(client: TestClient) -> None:
    def series(**params: str):  # type: ignore[no-untyped-def]
        return client.get("/api/v1/events/series", params={"site": "default", **params}, headers=ADMIN)

    assert envelope(series(interval="2h"))["fields"].keys() == {"query.interval"}
    assert envelope(series(**{"from": "yesterday"}))["fields"].keys() == {"query.from"}
    assert envelope(series(**{"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}))["fields"].keys() == {"query.from"}
    assert envelope(series(**{"from": "2020-01-01T00:00:00Z"}, interval="1m"))["fields"].keys() == {"query.interval"}
    response = client.get("/api/v1/events/series", params={"site": "elsewhere"}, headers=ADMIN)
    assert response.status_code == 404 and envelope(response)["fields"] == {"query.site": "unknown site"}


def test_a_bug_is_a_500_in_the_envelope_with_the_request_id(client: TestClient) -> None:
    async def broken() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/test-broken", broken)  # type: ignore[attr-defined]
    response = client.get("/test-broken", headers={"X-Request-ID": "trace-42"})
    assert response.status_code == 500 and envelope(response)["code"] == "internal_error"
    assert response.headers["x-request-id"] == "trace-42"  # what the log line carries too
    assert 'route="/test-broken",status="500"} 1.0' in client.get("/metrics").text
