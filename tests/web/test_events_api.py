"""The events admin API end to end, on both backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from tests.conftest import ADMIN


def test_imported_events_are_stored_and_queryable(client: TestClient) -> None:
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    events = [
        {"site_id": "default", "type": "vital", "name": "LCP", "value": v,
         "ts": (hour + timedelta(minutes=i)).isoformat(), "props": {"i": i}}
        for i, v in enumerate([1.0, 2.0, 3.0, 4.0])
    ]
    response = client.post("/api/v1/events", headers=ADMIN, json=events)
    assert response.status_code == 202 and response.json() == {"accepted": 4}

    client.app.state.runtime.event_buffer.flush()  # type: ignore[attr-defined]
    response = client.get("/api/v1/events/series", headers=ADMIN,
                          params={"site": "default", "type": "vital", "name": "LCP", "interval": "1h"})
    assert response.status_code == 200
    [bucket] = response.json()["buckets"]
    assert bucket == pytest.approx(
        {"ts": hour.replace(tzinfo=None).isoformat(), "events": 4, "p50": 2.5, "p75": 3.25, "p95": 3.85}
    )


def test_offsets_are_converted_to_utc(client: TestClient) -> None:
    ts = "2026-03-02T12:30:00+02:00"
    assert client.post("/api/v1/events", headers=ADMIN, json=[{"site_id": "default", "type": "x", "ts": ts}]).status_code == 202
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.event_buffer.flush()
    assert runtime.events.query("SELECT ts FROM events")[0]["ts"] == datetime(2026, 3, 2, 10, 30)


def test_batches_naming_unknown_sites_or_future_times_are_refused_whole(client: TestClient) -> None:
    future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    response = client.post("/api/v1/events", headers=ADMIN, json=[
        {"site_id": "default", "type": "ok"},
        {"site_id": "nowhere", "type": "x"},
    ])
    assert response.status_code == 422
    assert response.json()["error"]["fields"] == {"body[1].site_id": "unknown site 'nowhere'"}
    response = client.post("/api/v1/events", headers=ADMIN, json=[{"site_id": "default", "type": "x", "ts": future}])
    assert response.json()["error"]["fields"] == {"body[0].ts": "must not be more than a day in the future"}
    response = client.post("/api/v1/events", headers=ADMIN, json=[{"site_id": "default", "type": "x", "props": {"k": "v" * 9000}}])
    assert "body[0].props" in response.json()["error"]["fields"]
    assert client.post("/api/v1/events", headers=ADMIN, json=[]).status_code == 422
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.event_buffer.flush()
    assert runtime.events.count() == 0


def test_a_full_buffer_answers_503_and_acknowledges_nothing(settings_for) -> None:  # type: ignore[no-untyped-def]
    settings = settings_for("embedded", storage={"buffer_max_events": 1000, "flush_interval_seconds": 60, "flush_batch_size": 100_000})
    with TestClient(create_app(settings)) as client:
        batch = [{"site_id": "default", "type": "x"}] * 600
        assert client.post("/api/v1/events", headers=ADMIN, json=batch).status_code == 202
        response = client.post("/api/v1/events", headers=ADMIN, json=batch)
        assert response.status_code == 503 and response.headers["retry-after"] == "5"
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
    assert runtime.event_buffer.depth == 0
    from leadwatch.store.events import open_event_store

    store = open_event_store(settings)
    assert store.count() == 600  # the acknowledged batch, written at shutdown
    store.close()
