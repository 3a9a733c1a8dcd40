"""Property-based testing of the marketing money endpoints (spend, ROI, revenue
impact) from the OpenAPI document: whatever schemathesis generates, no 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.fuzz import assert_no_5xx, fuzz_client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with fuzz_client(tmp_path_factory.mktemp("schemathesis") / "data") as test_client:
        yield test_client


def test_marketing_endpoints_never_answer_5xx(client: TestClient) -> None:
    assert_no_5xx(client, r"^/api/v1/marketing/", operations_at_least=5)
