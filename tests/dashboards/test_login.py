"""The UI on the security package's session: redirect, log in with the login page's
form (a plain HTML post: no script needed), see pages, log out with the frame's form."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.auth import create_user
from leadwatch.security.sessions import COOKIE
from leadwatch.settings import Settings

PASSWORD = "correct horse battery"
# Where `next` must not lead: another origin, the API, the login page itself.
FOREIGN_TARGETS = ("https://evil.example/", "//evil.example/ui/", "/api/v1/events", "/ui/login")


@pytest.fixture
def client(settings_for: Callable[..., Settings]) -> Iterator[TestClient]:
    settings = settings_for("embedded", security={"login_max_failures": 3})
    with TestClient(create_app(settings), follow_redirects=False) as client:
        with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
            create_user(session, "ana", PASSWORD)
        yield client


def log_in(client: TestClient, password: str, **headers: str) -> object:
    return client.post("/ui/login", data={"username": "ana", "password": password, "next": "/ui/ops?range=7d"},
                       headers=headers)


def test_login_form_then_pages_then_logout(client: TestClient) -> None:
    to_login = client.get("/ui/ops?range=7d")
    assert to_login.status_code == 303
    page = client.get(to_login.headers["location"])
    assert page.status_code == 200 and 'action="/ui/login"' in page.text
    assert '<input type="hidden" name="next" value="/ui/ops?range=7d">' in page.text

    wrong = log_in(client, "nope")
    assert wrong.status_code == 401 and "wrong username or password" in wrong.text
    assert 'value="ana"' in wrong.text and 'name="next" value="/ui/ops?range=7d"' in wrong.text  # kept
    assert COOKIE not in client.cookies and client.get("/ui/ops").status_code == 303

    done = log_in(client, PASSWORD)
    assert done.status_code == 303 and done.headers["location"] == "/ui/ops?range=7d"
    ops = client.get("/ui/ops?range=7d")
    assert ops.status_code == 200 and 'aria-label="Log out">ana' in ops.text
    assert client.get("/api/v1/session").json()["username"] == "ana"  # the same session as the API's

    token = re.search(r'action="/ui/logout".*?name="csrf_token" value="([^"]+)"', ops.text, re.S)
    assert token is not None
    assert client.post("/ui/logout").status_code == 403  # without the token: still logged in
    assert client.get("/ui/ops").status_code == 200
    out = client.post("/ui/logout", data={"csrf_token": token.group(1)})
    assert out.status_code == 303 and out.headers["location"] == "/ui/login"
    assert client.get("/ui/ops").status_code == 303
    assert client.get("/api/v1/session").status_code == 401  # the session row is gone too


def test_another_sites_form_cannot_log_the_browser_in(client: TestClient) -> None:
    refused = log_in(client, PASSWORD, **{"Sec-Fetch-Site": "cross-site"})
    assert refused.status_code == 403 and "own login page" in refused.text
    assert client.get("/ui/ops").status_code == 303
    assert log_in(client, PASSWORD, **{"Sec-Fetch-Site": "same-origin"}).status_code == 303


def test_a_locked_account_is_told_to_wait_and_failures_count_as_brute_force(client: TestClient) -> None:
    assert [log_in(client, "nope").status_code for _ in range(3)] == [401] * 3
    locked = log_in(client, PASSWORD)
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) >= 1
    assert "too many failed logins" in locked.text and COOKIE not in client.cookies
    detectors = client.app.state.runtime.guard.detectors  # type: ignore[attr-defined]
    assert all(detectors.is_failed_login("POST", "/ui/login", status) for status in (401, 403, 429))


def test_blank_fields_and_foreign_next_targets(client: TestClient) -> None:
    blank = client.post("/ui/login", data={"username": " ", "password": ""})
    assert blank.status_code == 422 and "enter your username and password" in blank.text
    for target in FOREIGN_TARGETS:
        done = client.post("/ui/login", data={"username": "ana", "password": PASSWORD, "next": target})
        assert done.status_code == 303 and done.headers["location"] == "/ui/", target


def test_next_only_leads_to_ui_pages(client: TestClient) -> None:
    for target in FOREIGN_TARGETS:
        assert 'name="next" value="/ui/"' in client.get("/ui/login", params={"next": target}).text
