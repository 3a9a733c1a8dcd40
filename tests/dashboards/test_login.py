"""The UI on the security package's session: redirect, log in, see pages, log out."""

from __future__ import annotations

from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.auth import create_user
from leadwatch.settings import Settings

PASSWORD = "correct horse battery"


def test_login_page_then_pages_with_the_session_cookie(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
            create_user(session, "ana", PASSWORD)
        to_login = client.get("/ui/ops?range=7d", follow_redirects=False)
        assert to_login.status_code == 303
        page = client.get(to_login.headers["location"])
        assert page.status_code == 200 and 'id="login"' in page.text
        assert 'data-next="/ui/ops?range=7d"' in page.text

        assert client.post("/api/v1/session", json={"username": "ana", "password": "nope"}).status_code == 401
        assert client.get("/ui/ops", follow_redirects=False).status_code == 303
        session = client.post("/api/v1/session", json={"username": "ana", "password": PASSWORD})
        assert session.status_code == 200
        ops = client.get("/ui/ops?range=7d")
        assert ops.status_code == 200 and ">ana" in ops.text
        assert f'data-csrf="{session.json()["csrf_token"]}"' in ops.text

        out = client.delete("/api/v1/session", headers={"X-CSRF-Token": session.json()["csrf_token"]})
        assert out.status_code == 204
        assert client.get("/ui/ops", follow_redirects=False).status_code == 303


def test_next_only_leads_to_ui_pages(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        for target in ("https://evil.example/", "//evil.example/ui/", "/api/v1/events", "/ui/login"):
            assert 'data-next="/ui/"' in client.get("/ui/login", params={"next": target}).text
