"""Property-based API testing of the lead endpoints from the OpenAPI document:
whatever schemathesis generates from it, no answer is a 5xx."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.fuzz import assert_no_5xx, fuzz_client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    limits = {"rate_limit_per_ip": 1_000_000, "rate_limit_per_email": 1_000_000}
    with fuzz_client(tmp_path_factory.mktemp("schemathesis") / "data", leads=limits) as test_client:
        yield test_client


def test_lead_endpoints_never_answer_5xx(client: TestClient) -> None:
    assert_no_5xx(client, r"^/api/(v1/)?leads", operations_at_least=7)
