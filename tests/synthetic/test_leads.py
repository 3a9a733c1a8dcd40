"""Synthetic leads: marked by the signed header, out of every lead number, deleted
once the run that submitted them is recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from leadwatch.app import create_app
from leadwatch.leads.models import Lead
from leadwatch.settings import Settings
from leadwatch.store.schema import utcnow
from leadwatch.synthetic.context import MARKER_HEADER
from leadwatch.synthetic.marker import sign_marker
from leadwatch.synthetic.results import RunResult
from tests.conftest import ADMIN

LEAD = {"name": "Synthetic Monitor", "email": "synthetic-monitor@example.com", "message": "hello"}


@pytest.fixture
def client(backend: str, settings_for: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = settings_for(backend, synthetic={"enabled": False})
    with TestClient(create_app(settings)) as c:
        yield c


def stored(client: TestClient) -> list[tuple[str, str | None]]:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.records.session() as session:
        return [(lead.email, lead.rejected_reason) for lead in session.scalars(select(Lead))]


def test_a_marked_lead_is_kept_out_of_the_numbers_and_deleted_after_the_run(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    marker = sign_marker(runtime.secret_key, "run-1")
    response = client.post("/api/leads", json=LEAD, headers={MARKER_HEADER: marker})
    assert response.status_code == 201, response.text
    assert stored(client) == [(LEAD["email"], "synthetic")]

    assert client.get("/api/v1/leads", headers=ADMIN).json()["total"] == 0
    metrics = client.get("/metrics").text
    assert "leadwatch_leads_submitted_total{" not in metrics
    assert 'reason="synthetic"' not in metrics

    result = RunResult(run_id="run-1", journey="api-health", site_id="default", location="us-east",
                       started=utcnow(), duration=1.0, success=True, marker_id="run-1")
    runtime.synthetic.record(result)
    assert stored(client) == []


def test_a_forged_or_expired_marker_makes_an_ordinary_lead(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    forged = sign_marker(b"x" * 32, "run-1")
    expired = sign_marker(runtime.secret_key, "run-2", ttl=-10)
    for i, marker in enumerate((forged, expired)):
        lead = {**LEAD, "email": f"person{i}@example.org"}
        assert client.post("/api/leads", json=lead, headers={MARKER_HEADER: marker}).status_code == 201
    assert sorted(stored(client)) == [("person0@example.org", None), ("person1@example.org", None)]
    runtime.synthetic.record(RunResult(run_id="r", journey="api-health", site_id="default",
                                       location="us-east", started=utcnow(), duration=1.0,
                                       success=True, marker_id="r"))
    assert len(stored(client)) == 2  # real leads are never touched
