"""The security middleware in leadwatch (inside the observability middleware) and in a
plain ASGI app; the security headers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from leadwatch.app import create_app
from leadwatch.security.bans import BanList
from leadwatch.security.events import SecurityLog
from leadwatch.security.guard import Guard
from leadwatch.security.middleware import SecurityMiddleware
from leadwatch.settings import SecuritySettings, Settings
from leadwatch.store.migrate import upgrade_records
from leadwatch.store.records import RecordStore
from tests.conftest import ADMIN

ATTACKER = ("203.0.113.66", 40000)


def test_sqli_is_refused_with_the_envelope_and_recorded(settings: Settings) -> None:
    with TestClient(create_app(settings), client=ATTACKER) as client:
        response = client.get("/health", params={"q": "1' OR '1'='1"})
        assert response.status_code == 403
        assert response.json()["error"] == {
            "code": "blocked", "message": "the request was refused as an attack (sqli)",
            "fields": {"query.q": "refused: sqli"}}
        assert response.headers["x-request-id"]  # the observability middleware is outside
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.event_buffer.flush()
        [row] = runtime.events.query("SELECT * FROM events WHERE type = 'security'")
        assert row["name"] == "sqli" and row["props"]["action"] == "blocked"
        assert row["props"]["ip"] == ATTACKER[0] and row["props"]["field"] == "query.q"
        registry = runtime.metrics.registry
        assert registry.get_sample_value(
            "leadwatch_http_requests_total", {"method": "GET", "route": "<unmatched>", "status": "403"}) == 1
        assert registry.get_sample_value("leadwatch_security_refused_requests_total", {"reason": "attack"}) == 1


def test_form_and_json_bodies_are_inspected(client: TestClient) -> None:
    response = client.post("/api/v1/session", content="username=a%27%20or%201%3D1--&password=x",
                           headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 403 and "body" not in response.json()["error"]["fields"]
    response = client.post("/api/v1/session", json={"username": "1' UNION SELECT password FROM users--",
                                                    "password": "x"})
    assert response.status_code == 403
    assert response.json()["error"]["fields"] == {"form.username": "refused: sqli"}


# A strong generated password that libinjection reads as SQL (about one in 360 of
# 20 random characters with symbols do): the login only hashes it.
SQL_LIKE_PASSWORD = 'NeRy+?z4ayJ(Xc"="l9s'


def test_a_logins_password_is_neither_inspected_nor_kept(client: TestClient) -> None:
    from leadwatch.auth import create_user
    from leadwatch.security.detect import inspect

    assert inspect(SQL_LIKE_PASSWORD)  # what the middleware would refuse elsewhere
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.records.session() as session:
        create_user(session, "ana", SQL_LIKE_PASSWORD)
    wrong = client.post("/api/v1/session", json={"username": "bo", "password": SQL_LIKE_PASSWORD})
    assert wrong.status_code == 401  # checked (and wrong), not refused as an attack
    # The field is known by the name the app decodes, however it was encoded.
    form = client.post("/ui/login", content=f"username=ana&pass%77ord={quote_plus(SQL_LIKE_PASSWORD)}",
                       headers={"content-type": "application/x-www-form-urlencoded"}, follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/ui/"
    # Only the password of the login routes: the username, and the same text on any
    # other route, are inspected as before.
    named = client.post("/ui/login", data={"username": SQL_LIKE_PASSWORD, "password": "x"})
    other = client.post("/api/v1/silences", headers=ADMIN, json={"password": SQL_LIKE_PASSWORD})
    assert [named.status_code, other.status_code] == [403, 403]
    runtime.event_buffer.flush()
    kept = runtime.events.query("SELECT * FROM events WHERE type = 'security'")
    assert sorted(r["props"]["field"] for r in kept) == ["form.password", "form.username"]
    assert {r["props"]["field"]: r["path"] for r in kept}["form.password"] == "/api/v1/silences"


def test_bodies_that_carry_attacks_as_data_pass(client: TestClient) -> None:
    """Imported events and shipped logs may quote attacks; the route handles its own body."""
    response = client.post("/api/v1/events", headers=ADMIN,
                           json=[{"site_id": "default", "type": "x", "name": "1' UNION SELECT password FROM users--"}])
    assert response.status_code == 202


def test_ordinary_requests_pass_and_xss_is_flagged_not_refused(client: TestClient) -> None:
    assert client.get("/health", params={"q": "O'Brien & Sons <3"}).status_code == 200
    response = client.get("/health", params={"q": "<script>alert(1)</script>"})
    assert response.status_code == 200
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.event_buffer.flush()
    [row] = runtime.events.query("SELECT * FROM events WHERE type = 'security'")
    assert row["name"] == "xss" and row["props"]["action"] == "flagged"


def test_floods_get_429_with_retry_after(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded", security={"flood_burst": 5, "flood_requests_per_minute": 60})
    with TestClient(create_app(settings), client=ATTACKER) as client:
        statuses = [client.get("/health").status_code for _ in range(8)]
        assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
        response = client.get("/health")
        assert response.status_code == 429 and int(response.headers["retry-after"]) >= 1
        assert response.json()["error"]["code"] == "rate_limited"


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/health").headers
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert "strict-transport-security" not in headers  # plain HTTP
    https = TestClient(client.app, base_url="https://testserver")
    assert https.get("/health").headers["strict-transport-security"].startswith("max-age=31536000")


def test_trusted_proxy_forwarded_address_is_the_client(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded", security={"trusted_proxies": ["127.0.0.0/8"]})
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as client:
        client.app.state.runtime.guard.bans.ban(  # type: ignore[attr-defined]
            "198.51.100.20", seconds=60, reason="test", threat=None)
        assert client.get("/health", headers={"x-forwarded-for": "198.51.100.20"}).status_code == 403
        assert client.get("/health", headers={"x-forwarded-for": "198.51.100.21"}).status_code == 200
        # A forged left-most hop is not believed: the right-most untrusted hop is the client.
        assert client.get("/health", headers={"x-forwarded-for": "198.51.100.21, 198.51.100.20"}).status_code == 403


def _plain_app(settings: Settings) -> tuple[TestClient, list[Any], RecordStore]:
    """A Starlette app behind the middleware, answering the findings it was told of;
    the security events recorded; the store (close it)."""
    records = RecordStore.open(settings)
    upgrade_records(records.engine)
    rows: list[Any] = []
    registry = CollectorRegistry()
    guard = Guard(SecuritySettings(), SecurityLog(rows.extend, registry),
                  BanList(records, registry, 5.0), registry)

    async def hello(request: Request) -> JSONResponse:
        return JSONResponse({"findings": [str(s.threat) for s in request.scope.get("state", {}).get("security", [])]})

    app = SecurityMiddleware(Starlette(routes=[Route("/", hello, methods=["GET", "POST"])]), guard=guard)
    return TestClient(app, client=ATTACKER), rows, records


def test_the_middleware_protects_any_asgi_app(settings_for: Callable[..., Settings]) -> None:
    client, rows, records = _plain_app(settings_for("embedded"))
    assert client.get("/", params={"id": "1 UNION SELECT 1,2,3--"}).status_code == 403
    assert client.get("/", params={"c": "<svg onload=alert(1)>"}).json() == {"findings": ["xss"]}
    assert client.get("/").status_code == 200
    assert len(rows) == 2
    records.close()


def test_form_text_needs_a_confirmed_attack_queries_stay_strict(settings_for: Callable[..., Settings]) -> None:
    """Prose that libinjection alone flags passes in a form body; in a query it is refused."""
    client, _rows, records = _plain_app(settings_for("embedded"))
    prose = "3 < 5 and 7 > 4"
    assert client.post("/", data={"message": prose}).json() == {"findings": []}
    assert client.post("/", json={"message": "Can you add a <meta name=\"description\"> tag?"}).json() == {
        "findings": []}
    assert client.get("/", params={"q": prose}).status_code == 403
    assert client.post("/", data={"message": "x' OR '1'='1"}).status_code == 403
    assert client.post("/", data={"message": "<img src=x onerror=alert(1)>"}).json() == {"findings": ["xss"]}
    records.close()


def test_cookies_referer_and_forwarded_host_are_inspected(settings_for: Callable[..., Settings]) -> None:
    client, rows, records = _plain_app(settings_for("embedded"))
    refused = client.get("/", headers={"cookie": "theme=dark; sid=1%27%20UNION%20SELECT%20password%20FROM%20users--"})
    assert refused.status_code == 403 and refused.json()["error"]["fields"] == {"cookie.sid": "refused: sqli"}
    refused = client.get("/", headers={"referer": "https://evil.example/?id=1%27%20OR%20%271%27%3D%271"})
    assert refused.json()["error"]["fields"] == {"header.referer.id": "refused: sqli"}
    flagged = client.get("/", headers={"x-forwarded-host": "<script>alert(1)</script>.example"})
    assert flagged.json() == {"findings": ["xss"]}
    # What browsers and analytics send every day passes untouched.
    ordinary = client.get("/", headers={
        "cookie": '_ga=GA1.1.1234567.1700000000; consent={"analytics":true}; '
                  "lw_session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjMifQ.abc-_def",
        "referer": "https://www.google.com/search?q=o%27brien+%26+sons+seo+dublin#top",
        "x-forwarded-host": "www.example.com"})
    assert ordinary.json() == {"findings": []}
    assert len(rows) == 3  # one security event for each of the three
    records.close()


def test_multipart_text_fields_are_inspected_and_files_are_not(settings_for: Callable[..., Settings]) -> None:
    client, _rows, records = _plain_app(settings_for("embedded"))
    attack = "x' UNION SELECT password FROM users--"
    refused = client.post("/", data={"message": attack}, files={"cv": ("cv.txt", b"my cv")})
    assert refused.status_code == 403 and refused.json()["error"]["fields"] == {"form.message": "refused: sqli"}
    # An uploaded file is the app's to check: its bytes are not text someone typed.
    passed = client.post("/", data={"message": "Hi, my CV is attached."}, files={"cv": ("cv.sql", attack.encode())})
    assert passed.json() == {"findings": []}
    flagged = client.post("/", files={"note": (None, "<img src=x onerror=alert(1)>")})
    assert flagged.json() == {"findings": ["xss"]}
    broken = client.post("/", content=b"--b\r\nnot a part", headers={"content-type": "multipart/form-data; boundary=b"})
    assert broken.status_code == 200  # unreadable: the app decides
    records.close()


def test_never_banned_addresses_are_not_banned_nor_limited_but_still_inspected(
    settings_for: Callable[..., Settings],
) -> None:
    """Loopback (the default never-ban list): a proxy on the same host nobody listed
    in trusted_proxies makes every visitor 127.0.0.1; one visitor's probing must not
    ban them all. Its attacks are still refused and its detections recorded."""
    settings = settings_for("embedded", security={"flood_requests_per_minute": 60, "flood_burst": 3,
                                                  "probing_requests": 2})
    with TestClient(create_app(settings), client=("127.0.0.1", 5000)) as local:
        remote = TestClient(local.app, client=ATTACKER)  # the same app, already started
        prober = TestClient(local.app, client=("203.0.113.67", 40000))
        runtime = local.app.state.runtime  # type: ignore[attr-defined]
        assert [local.get(f"/nope-{i}").status_code for i in range(8)] == [404] * 8  # no 429, no 403
        assert runtime.guard.bans.banned("127.0.0.1") is None
        assert local.get("/health", params={"q": "1' OR '1'='1"}).status_code == 403
        assert 429 in [remote.get("/health").status_code for _ in range(8)]  # others are limited
        assert 403 in [prober.get(f"/nope-{i}").status_code for i in range(8)]  # and banned
        assert runtime.guard.bans.banned("203.0.113.67") is not None
        runtime.event_buffer.flush()
        actions = {(r["props"]["ip"], r["name"], r["props"]["action"]) for r in runtime.events.query(
            "SELECT * FROM events WHERE type = 'security'")}
        assert ("127.0.0.1", "probing", "flagged") in actions and ("127.0.0.1", "sqli", "blocked") in actions
        assert ("203.0.113.67", "probing", "banned") in actions

        refused = local.post("/api/v1/security/bans", headers=ADMIN, json={"address": "127.0.0.0/24"})
        assert refused.status_code == 422 and "never banned" in refused.json()["error"]["fields"]["body.address"]
