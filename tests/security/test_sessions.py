"""The UI session: login with argon2, lockout with backoff, signed cookies, CSRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from leadwatch.auth import create_user
from leadwatch.security.models import LoginThrottle
from leadwatch.security.sessions import (
    COOKIE,
    LoginLocked,
    authenticate,
    sign_session,
    unsign_session,
)
from leadwatch.settings import SecuritySettings

PASSWORD = "correct horse battery"


def add_user(client: TestClient, name: str = "ana") -> None:
    with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        create_user(session, name, PASSWORD)


def test_login_session_csrf_logout(client: TestClient) -> None:
    add_user(client)
    assert client.get("/api/v1/session").status_code == 401
    response = client.post("/api/v1/session", json={"username": "ana", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "ana" and body["csrf_token"]
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie  # plain HTTP
    assert client.get("/api/v1/session").json()["csrf_token"] == body["csrf_token"]
    refused = client.delete("/api/v1/session")  # no CSRF token
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_failed"
    assert client.delete("/api/v1/session", headers={"x-csrf-token": body["csrf_token"]}).status_code == 204
    assert client.get("/api/v1/session").status_code == 401


def test_a_forged_or_tampered_cookie_is_refused(client: TestClient) -> None:
    add_user(client)
    client.post("/api/v1/session", json={"username": "ana", "password": PASSWORD})
    signed = client.cookies[COOKIE]
    client.cookies.clear()
    client.cookies.set(COOKIE, signed[:-2] + "xx")
    assert client.get("/api/v1/session").status_code == 401
    key = b"k" * 32
    assert unsign_session(key, sign_session(key, "abc")) == "abc"
    assert unsign_session(b"x" * 32, sign_session(key, "abc")) is None


def test_wrong_password_is_401_naming_no_user(client: TestClient) -> None:
    add_user(client)
    for name in ("ana", "nobody"):
        response = client.post("/api/v1/session", json={"username": name, "password": "wrong password!"})
        assert response.status_code == 401
        assert response.json()["error"]["message"] == "wrong username or password"


def test_lockout_with_backoff(settings_for: Any) -> None:
    from leadwatch.store.migrate import upgrade_records
    from leadwatch.store.records import RecordStore

    records = RecordStore.open(settings_for("embedded"))
    upgrade_records(records.engine)
    settings = SecuritySettings(login_max_failures=3, login_lockout_seconds=10)
    t = datetime(2026, 11, 26, tzinfo=UTC)
    with records.session() as session:
        create_user(session, "ana", PASSWORD)
    lockouts = []
    for _ in range(5):
        with records.session() as session:
            assert authenticate(session, settings, "Ana ", "nope", at=t) is None  # case and spaces
            until = session.get(LoginThrottle, "ana").locked_until  # type: ignore[union-attr]
        lockouts.append((until - t).total_seconds() if until else None)
        t = (until or t) + timedelta(seconds=1)
    assert lockouts == [None, None, 10, 20, 40]  # doubling from the third failure
    with records.session() as session:
        throttle = session.get(LoginThrottle, "ana")
        assert throttle is not None and throttle.failures == 5
        locked_until = throttle.locked_until
    assert locked_until is not None
    with records.session() as session:  # locked: even the right password is refused
        try:
            authenticate(session, settings, "ana", PASSWORD, at=locked_until - timedelta(seconds=1))
        except LoginLocked as exc:
            assert 0 < exc.retry_after <= 1
        else:
            raise AssertionError("not locked")
    with records.session() as session:  # after the lockout, the right password resets it
        assert authenticate(session, settings, "ana", PASSWORD, at=locked_until) is not None
    with records.session() as session:
        assert session.get(LoginThrottle, "ana") is None
    records.close()


def test_locked_account_gets_429_with_retry_after(settings_for: Any) -> None:
    from leadwatch.app import create_app

    settings = settings_for("embedded", security={"login_max_failures": 2})
    with TestClient(create_app(settings)) as client:
        add_user(client)
        for _ in range(2):
            client.post("/api/v1/session", json={"username": "ana", "password": "wrong password!"})
        response = client.post("/api/v1/session", json={"username": "ana", "password": PASSWORD})
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
