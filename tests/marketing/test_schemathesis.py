"""Property-based testing of the marketing money endpoints (spend, ROI, revenue
impact) from the OpenAPI document: whatever schemathesis generates, no 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.settings import load_settings
from tests.conftest import ADMIN_TOKEN
from tests.fuzz import assert_no_5xx


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data = tmp_path_factory.mktemp("schemathesis") / "data"
    app = create_app(load_settings(storage={"data_dir": data}, auth={"admin_token": ADMIN_TOKEN},
                                   security={"enabled": False}))
    with TestClient(app) as test_client:
        yield test_client


def test_marketing_endpoints_never_answer_5xx(client: TestClient) -> None:
    assert_no_5xx(client, r"^/api/v1/marketing/", operations_at_least=5)
