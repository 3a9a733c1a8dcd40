"""``/api/v1/privacy/subjects``: admin only, the subject checked with a clear 422,
export and erasure through the app the server runs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.settings import Settings
from tests.conftest import ADMIN
from tests.fuzz import assert_no_5xx

PATH = "/api/v1/privacy/subjects"


@contextmanager
def seeded_client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        for name, email in (("Ann Example", "ann@example.com"), ("Bob Other", "bob@example.com")):
            response = test_client.post("/api/leads", json={"name": name, "email": email, "phone": "+44 20 7946 0000"})
            assert response.status_code == 201, response.text
        yield test_client


@pytest.fixture
def client(settings_for: Callable[..., Settings]) -> Iterator[TestClient]:
    # The security guard on, as served: addresses in the query string pass it.
    with seeded_client(settings_for("embedded")) as test_client:
        yield test_client


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer not-the-token"}])
def test_the_admin_token_is_required(client: TestClient, method: str, headers: dict[str, str]) -> None:
    response = client.request(method, PATH, params={"email": "ann@example.com"}, headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
    assert client.get(PATH, params={"email": "ann@example.com"}, headers=ADMIN).json()["leads"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(("params", "field"), [
    ({}, "query.email"),
    ({"email": "ann-at-example.com"}, "query.email"),
    ({"email": "ann@"}, "query.email"),
    ({"email": "a" * 255 + "@example.com"}, "query.email"),
    ({"email": "ann@example.com", "phone": "12"}, "query.phone"),
    ({"email": "ann@example.com", "site": "nowhere"}, "query.site"),
])
def test_a_bad_subject_is_a_422_naming_the_parameter(
    client: TestClient, method: str, params: dict[str, str], field: str
) -> None:
    response = client.request(method, PATH, params=params, headers=ADMIN)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and field in error["fields"]
    # Nothing was erased by a refused request.
    assert client.get(PATH, params={"email": "ann@example.com"}, headers=ADMIN).json()["leads"]


def test_export_then_erase(client: TestClient) -> None:
    exported = client.get(PATH, params={"email": "Ann@Example.com", "site": "default"}, headers=ADMIN).json()
    assert [lead["name"] for lead in exported["leads"]] == ["Ann Example"]
    assert exported["subject"] == {"email": "ann@example.com", "phone_digits": None, "site": "default"}

    erased = client.delete(PATH, params={"email": "ann@example.com"}, headers=ADMIN)
    assert erased.status_code == 200, erased.text
    assert erased.json()["counts"]["leads"] == 1 and erased.json()["request_id"] > exported["request_id"]
    assert client.get(PATH, params={"email": "ann@example.com"}, headers=ADMIN).json()["leads"] == []
    bob = client.get(PATH, params={"email": "bob@example.com"}, headers=ADMIN).json()["leads"]
    assert [lead["name"] for lead in bob] == ["Bob Other"]
    registry = client.app.state.metrics.registry  # type: ignore[attr-defined]
    assert registry.get_sample_value("leadwatch_privacy_requests_total", {"kind": "export"}) == 3
    assert registry.get_sample_value("leadwatch_privacy_requests_total", {"kind": "erase"}) == 1


def test_the_privacy_endpoints_never_answer_5xx(settings_for: Callable[..., Settings]) -> None:
    # Without the guard, which would ban the fuzzer and leave the endpoints untested.
    with seeded_client(settings_for("embedded", security={"enabled": False})) as client:
        assert_no_5xx(client, r"^/api/v1/privacy", operations_at_least=2)
