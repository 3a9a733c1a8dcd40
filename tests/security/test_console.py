"""The Security page as the analyst's console: incidents filtered and linked to their
evidence, attack input shown escaped, and verdicts, bans and unbans made from the
page by a logged-in admin with the session's CSRF token (a viewer may only look)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.auth import create_user
from leadwatch.security.events import Action, SecurityEvent
from leadwatch.settings import Settings
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN

PASSWORD = "correct horse battery"
ATTACK = '"><script>alert(document.cookie)</script>'


@pytest.fixture
def app_client(settings_for: object) -> Iterator[TestClient]:
    settings: Settings = settings_for("embedded")  # type: ignore[operator]
    with TestClient(create_app(settings), follow_redirects=False) as client:
        with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
            create_user(session, "ana", PASSWORD)
            create_user(session, "vic", PASSWORD, role="viewer")
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.security_log.record(
            SecurityEvent("default", "xss", Action.FLAGGED, "middleware", ip="203.0.113.7", field="query.q",
                          rule="libinjection.xss", evidence=ATTACK, path="/search", ts=utcnow()),
            SecurityEvent("default", "probing", Action.BANNED, "middleware", ip="198.51.100.4",
                          rule="rate.probing", evidence="more than 20 in 300s", ts=utcnow()))
        runtime.guard.bans.ban("198.51.100.4", seconds=600, reason="probing", threat="probing")
        runtime.security.incidents.process()
        runtime.event_buffer.flush()
        yield client


def login(client: TestClient, name: str) -> dict[str, str]:
    answer = client.post("/api/v1/session", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200
    return {"X-CSRF-Token": answer.json()["csrf_token"]}


def incident_id(client: TestClient, threat: str) -> int:
    found = client.get("/api/v1/security/incidents", headers=ADMIN, params={"threat": threat}).json()
    return int(found[0]["id"])


def test_the_list_filters_links_and_escapes(app_client: TestClient) -> None:
    login(app_client, "ana")
    html = app_client.get("/ui/security").text
    xss = incident_id(app_client, "xss")
    assert f'href="/ui/security/incidents/{xss}?' in html
    assert "<script>alert" not in html and "&lt;script&gt;alert" in html  # escaped, never markup
    filtered = app_client.get("/ui/security", params={"threat": "probing"}).text
    assert 'data-key="incident-' in filtered and f'data-key="incident-{xss}"' not in filtered
    assert "No incidents match" in app_client.get("/ui/security", params={"severity": "critical"}).text
    bad = app_client.get("/ui/security", params={"status": "closed"})
    assert bad.status_code == 422 and "status: must be one of" in bad.text


def test_an_incident_page_shows_the_evidence_escaped(app_client: TestClient) -> None:
    login(app_client, "ana")
    xss = incident_id(app_client, "xss")
    page = app_client.get(f"/ui/security/incidents/{xss}")
    assert page.status_code == 200
    row = re.search(r'<tr data-key="evidence">(.*?)</tr>', page.text, re.DOTALL)
    assert row and "query.q" in row[1] and "libinjection.xss" in row[1] and "/search" in row[1]
    assert "&lt;script&gt;alert(document.cookie)&lt;/script&gt;" in row[1] and "<script>alert" not in page.text
    assert "inline" not in page.headers["content-security-policy"]  # no unsafe-inline: escaping is the defence
    assert app_client.get("/ui/security/incidents/99999").status_code == 404
    assert app_client.get("/ui/security/incidents/x").status_code == 422


def test_an_admin_judges_bans_and_unbans_from_the_page(app_client: TestClient) -> None:
    csrf = login(app_client, "ana")
    bans = app_client.app.state.runtime.guard.bans  # type: ignore[attr-defined]
    probing, xss = incident_id(app_client, "probing"), incident_id(app_client, "xss")
    page = app_client.get(f"/ui/security/incidents/{probing}").text
    assert 'name="status"' in page and csrf["X-CSRF-Token"] in page
    assert "hx-trigger=\"every" not in page  # a refresh would wipe the note being typed

    refused = app_client.post(f"/ui/security/incidents/{probing}/verdict", data={"status": "false_positive"})
    assert refused.status_code == 403  # no CSRF token
    done = app_client.post(f"/ui/security/incidents/{probing}/verdict", headers=csrf,
                           data={"status": "false_positive", "note": "our office NAT"})
    assert done.status_code == 303 and done.headers["location"] == f"/ui/security/incidents/{probing}"
    judged = app_client.get(f"/api/v1/security/incidents/{probing}", headers=ADMIN).json()
    assert (judged["status"], judged["resolved_by"], judged["note"]) == ("false_positive", "ana", "our office NAT")
    assert not bans.banned("198.51.100.4")  # the false positive's automatic ban is lifted
    bad = app_client.post(f"/ui/security/incidents/{xss}/verdict", headers=csrf, data={"status": "closed"})
    assert bad.status_code == 422 and "status" in bad.text
    # A client's own tag: rightly detected, harmless; no detector's mistake in the FP rate.
    assert 'value="benign_positive"' in page
    benign = app_client.post(f"/ui/security/incidents/{xss}/verdict", headers=csrf,
                             data={"status": "benign_positive", "note": "the client's own tag"})
    assert benign.status_code == 303
    tiles = app_client.get("/ui/security").text
    assert 'data-key="fp-rate">50.0 %<' in tiles and 'data-key="benign">1<' in tiles
    assert app_client.post("/ui/security/incidents/99999/verdict", headers=csrf,
                           data={"status": "resolved"}).status_code == 404

    banned = app_client.post("/ui/security/bans?site=default", headers=csrf,
                             data={"address": "203.0.113.7", "seconds": "600", "reason": "xss",
                                   "back": f"/ui/security/incidents/{xss}"})
    assert banned.status_code == 303 and banned.headers["location"] == f"/ui/security/incidents/{xss}?site=default"
    (ban,) = app_client.get("/api/v1/security/bans", headers=ADMIN).json()
    assert (ban["network"], ban["created_by"], ban["reason"]) == ("203.0.113.7/32", "ana", "xss")
    assert bans.banned("203.0.113.7")
    assert "banned now" in app_client.get(f"/ui/security/incidents/{xss}").text
    elsewhere = app_client.post("/ui/security/bans", headers=csrf,
                                data={"address": "203.0.113.8", "back": "https://evil.example/"})
    assert elsewhere.headers["location"] == "/ui/security"  # never another origin
    for data in ({"address": "nope"}, {"address": "203.0.113.9", "seconds": "0"}):
        assert app_client.post("/ui/security/bans", headers=csrf, data=data).status_code == 422
    lifted = app_client.post("/ui/security/bans", headers=csrf, data={"address": "203.0.113.7", "lift": "1"})
    assert lifted.status_code == 303 and not bans.banned("203.0.113.7")
    again = app_client.post("/ui/security/bans", headers=csrf, data={"address": "203.0.113.7", "lift": "1"})
    assert again.status_code == 404


def test_a_viewer_may_look_but_not_act(app_client: TestClient) -> None:
    csrf = login(app_client, "vic")
    xss = incident_id(app_client, "xss")
    page = app_client.get(f"/ui/security/incidents/{xss}")
    assert page.status_code == 200 and 'name="status"' not in page.text
    assert 'aria-label="Ban an address"' not in app_client.get("/ui/security").text
    assert app_client.post(f"/ui/security/incidents/{xss}/verdict", headers=csrf,
                           data={"status": "resolved"}).status_code == 403
    assert app_client.post("/ui/security/bans", headers=csrf, data={"address": "203.0.113.9"}).status_code == 403
    assert app_client.get(f"/api/v1/security/incidents/{xss}", headers=ADMIN).json()["status"] == "open"
    assert app_client.get("/api/v1/security/bans", headers=ADMIN).json()[0]["network"] == "198.51.100.4/32"


def test_an_incident_that_refused_leads_links_to_them_held_back(app_client: TestClient) -> None:
    login(app_client, "ana")
    refused = app_client.post("/api/leads", files={
        "name": (None, "Cal Culator"), "email": (None, "cal@example.com"),
        "message": (None, 'The calculator shows "=" then nothing. Is it broken?')})
    assert refused.status_code == 403
    runtime = app_client.app.state.runtime  # type: ignore[attr-defined]
    runtime.event_buffer.flush()
    runtime.security.incidents.process()
    page = app_client.get(f"/ui/security/incidents/{incident_id(app_client, 'sqli')}").text
    link = re.search(r'data-key="held-link">.*?href="([^"]+)"', page, re.DOTALL)
    assert link, "no link to the held-back submissions"
    held = app_client.get(link[1].replace("&amp;", "&"))
    assert held.status_code == 200 and "Cal Culator" in held.text and "refused as SQL injection" in held.text
    # An incident that refused no lead has no such link.
    assert 'data-key="held-link"' not in app_client.get(f"/ui/security/incidents/{incident_id(app_client, 'xss')}").text


def test_an_address_s_incidents_are_one_click_away(app_client: TestClient) -> None:
    login(app_client, "ana")
    xss = incident_id(app_client, "xss")
    page = app_client.get(f"/ui/security/incidents/{xss}").text
    link = re.search(r'href="([^"]+)" data-key="address-incidents"', page)
    assert link and "ip=203.0.113.7" in link[1]
    listed = app_client.get(link[1].replace("&amp;", "&")).text
    assert f'data-key="incident-{xss}"' in listed and f'data-key="incident-{incident_id(app_client, "probing")}"' not in listed
    assert 'name="ip" value="203.0.113.7"' in listed  # the filter shows what was asked
    assert "127.0.0.0/8, ::1/128." in re.sub(r"<[^>]+>", "", app_client.get("/ui/security").text)  # never banned
    # The top offenders link to their incidents too.
    assert re.search(r'href="/ui/security\?[^"]*ip=198.51.100.4[^"]*"', app_client.get("/ui/security").text)
    api = app_client.get("/api/v1/security/incidents", headers=ADMIN, params={"ip": "198.51.100.4"}).json()
    assert [i["threat"] for i in api] == ["probing"]
    bad = app_client.get("/api/v1/security/incidents", headers=ADMIN, params={"ip": "not-an-ip"})
    assert bad.status_code == 422 and bad.json()["error"]["fields"] == {"query.ip": "not an IP address"}
    assert app_client.get("/ui/security", params={"ip": "x"}).status_code == 422
