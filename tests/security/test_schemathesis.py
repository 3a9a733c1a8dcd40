"""Property-based API testing of the security admin endpoints (incidents and their
verdicts, bans, the summary) from the OpenAPI document: whatever schemathesis
generates, no answer is a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from leadwatch.security.models import SecurityIncident
from tests.conftest import ADMIN
from tests.fuzz import assert_no_5xx, fuzz_client


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    with fuzz_client(tmp_path_factory.mktemp("schemathesis") / "data") as test_client:
        _incidents(test_client)
        yield test_client


def _incidents(client: TestClient) -> None:
    """A few incidents with small ids, so that verdicts reach an incident, not only 404."""
    now = datetime.now(UTC)
    with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        session.add_all(
            SecurityIncident(site_id="default", ip=f"203.0.113.{n}", threat="sqli", severity="high",
                             events=3, first_seen_at=now - timedelta(minutes=5),
                             detected_at=now - timedelta(minutes=4), last_seen_at=now)
            for n in range(1, 4)
        )


def test_security_admin_endpoints_never_answer_5xx(client: TestClient) -> None:
    assert_no_5xx(client, r"^/api/v1/security/", operations_at_least=6)


@pytest.mark.parametrize(("method", "url", "field"), [
    # Dates at the calendar's edge, out of range once moved to UTC or 7 days back.
    ("GET", "/api/v1/security/summary?to=0001-01-01T00:00:00", "query.to"),
    ("GET", "/api/v1/security/summary?to=9999-12-31T23:59:59-05:00", "query.to"),
    ("GET", "/api/v1/security/summary?from=9999-12-31T23:00:00-05:00", "query.from"),
    # An id past what the records' integer column holds.
    ("POST", f"/api/v1/security/incidents/{2**64}", "path.incident_id"),
])
def test_values_the_fuzzer_rarely_draws_are_4xx_naming_the_field(
    client: TestClient, method: str, url: str, field: str
) -> None:
    response = client.request(method, url, headers=ADMIN, json={"status": "resolved"})
    assert response.status_code == 422, response.text
    assert field in response.json()["error"]["fields"]
