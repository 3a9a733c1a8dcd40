"""The viewer role reads every page but acts nowhere: each UI action (alert incidents,
silences, lead follow-ups, security verdicts and bans, privacy) is an admin's, its form
is not shown to a viewer, and a viewer's post is a 403 that changes nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.auth import create_user
from leadwatch.settings import Settings
from tests.conftest import ADMIN

PASSWORD = "a long enough password"


@pytest.fixture
def client(settings_for: object) -> Iterator[TestClient]:
    settings: Settings = settings_for("embedded", security={"enabled": False})  # type: ignore[operator]
    with TestClient(create_app(settings), follow_redirects=False) as client:
        with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
            create_user(session, "ada", PASSWORD)
            create_user(session, "vic", PASSWORD, role="viewer")
        yield client


def login(client: TestClient, name: str) -> dict[str, str]:
    answer = client.post("/api/v1/session", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200
    return {"X-CSRF-Token": answer.json()["csrf_token"], "HX-Request": "true"}


def test_a_viewer_sees_no_action_and_is_refused_every_one(client: TestClient) -> None:
    silence = client.post("/api/v1/silences", headers=ADMIN, json={
        "matchers": ["service=web"], "duration_seconds": 3600, "comment": "planned"}).json()
    lead = client.post("/api/leads", json={"name": "Ann Example", "email": "ann@example.com"}).json()
    viewer = login(client, "vic")

    alerts = client.get("/ui/alerts").text
    assert 'aria-label="New silence"' not in alerts and f"/ui/alerts/silences/{silence['id']}/expire" not in alerts
    assert "/followups" not in client.get(f"/ui/leads/{lead['id']}").text
    refused = [
        client.post("/ui/alerts/silences", headers=viewer,
                    data={"matchers": "service=db", "duration": "3600", "comment": "mine"}),
        client.post(f"/ui/alerts/silences/{silence['id']}/expire", headers=viewer),
        client.post("/ui/alerts/incidents/1/acknowledge", headers=viewer),
        client.post(f"/ui/leads/{lead['id']}/followups", headers=viewer, data={"status": "contacted"}),
    ]
    assert [r.status_code for r in refused] == [403] * 4
    assert "Only admins" in refused[0].text
    assert [s["id"] for s in client.get("/api/v1/silences", headers=ADMIN).json()["silences"]] == [silence["id"]]
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=ADMIN).json()["status"] == "new"

    admin = login(client, "ada")
    assert 'aria-label="New silence"' in client.get("/ui/alerts").text
    assert "/followups" in client.get(f"/ui/leads/{lead['id']}").text
    done = client.post(f"/ui/leads/{lead['id']}/followups", headers=admin, data={"status": "contacted"})
    assert done.status_code == 204
    assert client.get(f"/api/v1/leads/{lead['id']}", headers=ADMIN).json()["status"] == "contacted"


def test_a_viewer_cannot_restore_a_held_back_submission(client: TestClient) -> None:
    client.post("/api/leads", files={"name": (None, "Cal"), "email": (None, "cal@example.com"),
                                     "message": (None, 'The calculator shows "=" then nothing.')})
    (held,) = client.get("/api/v1/leads", headers=ADMIN, params={"rejected": "true"}).json()["leads"]
    viewer = login(client, "vic")
    assert "/restore" not in client.get(f"/ui/leads/{held['id']}").text
    assert client.post(f"/ui/leads/{held['id']}/restore", headers=viewer).status_code == 403
    assert client.get(f"/api/v1/leads/{held['id']}", headers=ADMIN).json()["rejected_reason"] == "blocked_sqli"
    admin = login(client, "ada")
    assert client.post(f"/ui/leads/{held['id']}/restore", headers=admin).status_code == 204
    assert client.get(f"/api/v1/leads/{held['id']}", headers=ADMIN).json()["rejected_reason"] is None
