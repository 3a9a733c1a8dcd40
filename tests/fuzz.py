"""Property-based API testing from the OpenAPI document: whatever schemathesis
generates for an operation, the answer is never a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from leadwatch.app import create_app
from leadwatch.settings import load_settings
from tests.conftest import ADMIN, ADMIN_TOKEN

# What TestClient.request takes of schemathesis' transport arguments.
ACCEPTED = {"method", "url", "headers", "params", "content", "json", "data", "files", "cookies"}


@contextmanager
def fuzz_client(data_dir: Path, **sections: Any) -> Iterator[TestClient]:
    """An app on its own data dir, with the admin token and the security guard off (the
    fuzzer's attack-shaped values would get its address banned, and the endpoints
    themselves are under test); ``sections``: more settings."""
    app = create_app(load_settings(storage={"data_dir": data_dir}, auth={"admin_token": ADMIN_TOKEN},
                                   security={"enabled": False}, **sections))
    with TestClient(app) as client:
        yield client


def assert_no_5xx(client: TestClient, path_regex: str, *, operations_at_least: int) -> None:
    """Fuzz every operation under ``path_regex`` with the admin token; fails on a 5xx,
    or when fewer operations than expected are found (a renamed path must not make the
    test pass by testing nothing)."""
    schema = schemathesis.openapi.from_dict(client.get("/openapi.json").json())
    operations = [op.ok() for op in schema.include(path_regex=path_regex).get_all_operations()]
    assert len(operations) >= operations_at_least
    for operation in operations:
        _fuzz(client, operation)


def _fuzz(client: TestClient, operation: Any) -> None:
    @given(case=operation.as_strategy())
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)
    def check(case) -> None:  # type: ignore[no-untyped-def]
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        kwargs["headers"] = {**ADMIN, **(kwargs.get("headers") or {})}
        response = client.request(**{k: v for k, v in kwargs.items() if k in ACCEPTED})
        assert response.status_code < 500, (
            f"{operation.label}: {response.status_code} {response.text}")

    check()
