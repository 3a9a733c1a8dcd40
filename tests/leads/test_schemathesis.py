"""Property-based API testing of the lead endpoints from the OpenAPI document:
whatever schemathesis generates from it, no answer is a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from leadwatch.app import create_app
from leadwatch.settings import load_settings
from tests.conftest import ADMIN, ADMIN_TOKEN


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("schemathesis") / "data"
    app = create_app(load_settings(
        storage={"data_dir": data}, auth={"admin_token": ADMIN_TOKEN},
        leads={"rate_limit_per_ip": 1_000_000, "rate_limit_per_email": 1_000_000},
        security={"enabled": False},  # the lead endpoints themselves are under test
    ))
    with TestClient(app) as test_client:
        yield test_client


def test_lead_endpoints_never_answer_5xx(client: TestClient) -> None:
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    operations = [op.ok() for op in schema.include(path_regex=r"^/api/(v1/)?leads").get_all_operations()]
    assert len(operations) >= 7
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case) -> None:  # type: ignore[no-untyped-def]
            kwargs = case.as_transport_kwargs(base_url="http://testserver")
            kwargs["headers"] = {**ADMIN, **(kwargs.get("headers") or {})}
            response = client.request(**{k: v for k, v in kwargs.items() if k in ACCEPTED})
            assert response.status_code < 500, f"{operation.label}: {response.status_code} {response.text}"

        check()


ACCEPTED = {"method", "url", "headers", "params", "content", "json", "data", "files", "cookies"}
