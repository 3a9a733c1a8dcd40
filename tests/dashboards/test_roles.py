"""The viewer role reads every page but acts nowhere: each UI action (alert incidents,
silences, lead follow-ups, security verdicts and bans, privacy) is an admin's, its form
is not shown to a viewer, and a viewer's post is a 403 that changes nothing. An
admin's action form works as a plain HTML post too (before ui.js has loaded, or
without JavaScript): it carries the session's CSRF token in a hidden field."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

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


def forms(html: str) -> dict[str, tuple[str, dict[str, str]]]:
    """The page's post forms by aria-label: (action, hidden fields)."""
    found = {}
    for attrs, body in re.findall(r'<form([^>]*method="post"[^>]*)>(.*?)</form>', html, re.S):
        label, action = (re.search(rf'{a}="([^"]*)"', attrs) for a in ("aria-label", "action"))
        hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', body))
        found[unescape(label.group(1)) if label else ""] = (unescape(action.group(1)), hidden)
    return found


def test_action_forms_work_as_plain_html_posts(client: TestClient) -> None:
    """A click before htmx has loaded posts the form natively: no CSRF header, no
    HX-Request. The hidden field carries the token, and the answer is a redirect back."""
    client.post("/api/leads", files={"name": (None, "Cal"), "email": (None, "cal@example.com"),
                                     "message": (None, 'The calculator shows "=" then nothing.')})
    (held,) = client.get("/api/v1/leads", headers=ADMIN, params={"rejected": "true"}).json()["leads"]
    token = login(client, "ada")["X-CSRF-Token"]

    pages = {path: forms(client.get(path).text) for path in (f"/ui/leads/{held['id']}", "/ui/alerts", "/ui/security")}
    every = [form for page in pages.values() for form in page.values()]
    assert len(every) >= 3 and all(hidden.get("csrf_token") == token for _, hidden in every)

    action, hidden = pages[f"/ui/leads/{held['id']}"]["Restore as a lead"]
    without = client.post(action, data={k: v for k, v in hidden.items() if k != "csrf_token"})
    wrong = client.post(action, data=hidden | {"csrf_token": token[::-1]})
    assert [without.status_code, wrong.status_code] == [403, 403] and "CSRF" in without.text
    assert client.get(f"/api/v1/leads/{held['id']}", headers=ADMIN).json()["rejected_reason"] == "blocked_sqli"
    done = client.post(action, data=hidden)
    assert done.status_code == 303 and done.headers["location"].startswith(f"/ui/leads/{held['id']}?")
    assert client.get(f"/api/v1/leads/{held['id']}", headers=ADMIN).json()["rejected_reason"] is None

    action, hidden = pages["/ui/alerts"]["New silence"]
    made = client.post(action, data=hidden | {"matchers": "service=web", "duration": "3600", "kind": "silence",
                                              "comment": "posted without JavaScript"})
    assert made.status_code == 303 and made.headers["location"].startswith("/ui/alerts")
    (silence,) = client.get("/api/v1/silences", headers=ADMIN).json()["silences"]
    assert silence["comment"] == "posted without JavaScript" and silence["created_by"] == "ada"
    action, hidden = forms(client.get("/ui/alerts").text)[f"Expire silence {silence['id']}"]
    assert client.post(action, data=hidden).status_code == 303
    assert client.get("/api/v1/silences", headers=ADMIN).json()["silences"] == []
