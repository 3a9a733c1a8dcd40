"""An analyst's day through the admin API: incidents filtered by status, threat and
severity, one incident with the evidence of its events, a false positive that lifts
the ban it caused, and a password guesser who keeps going through the lockout."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from leadwatch.app import create_app
from leadwatch.security.events import Action, SecurityEvent
from leadwatch.security.models import SecurityIncident
from leadwatch.settings import Settings
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN


def record(client: TestClient, *events: SecurityEvent) -> None:
    """Events through the security log, grouped into incidents and stored, as the
    background services would."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.security_log.record(*events)
    runtime.security.incidents.process()
    runtime.event_buffer.flush()


def incident_of(client: TestClient, **params: str) -> dict[str, Any]:
    (found,) = client.get("/api/v1/security/incidents", headers=ADMIN, params=params).json()
    return dict(found)


def test_incidents_filter_by_threat_severity_and_status(client: TestClient) -> None:
    now = utcnow()
    record(client,
           SecurityEvent("default", "sqli", Action.BLOCKED, "test", ip="203.0.113.1", ts=now),
           SecurityEvent("default", "probe", Action.FLAGGED, "test", ip="203.0.113.2", ts=now),
           SecurityEvent("default", "xss", Action.FLAGGED, "test", ip="203.0.113.3", ts=now))
    listed = lambda **p: {i["threat"] for i in client.get(
        "/api/v1/security/incidents", headers=ADMIN, params=p).json()}
    assert listed(threat="probe") == {"probe"}
    assert listed(severity="high") == {"sqli"}
    assert listed(severity="medium", status="open") == {"xss"}
    assert listed(threat="xss", severity="low") == set()
    for name, value in (("threat", "sql"), ("severity", "urgent"), ("status", "closed"), ("limit", "0")):
        bad = client.get("/api/v1/security/incidents", headers=ADMIN, params={name: value})
        assert bad.status_code == 422 and f"query.{name}" in bad.json()["error"]["fields"], name


def test_an_incident_shows_its_events_evidence(client: TestClient) -> None:
    now = utcnow()
    attack = "<img src=x onerror=alert(1)>"
    record(client,
           SecurityEvent("default", "xss", Action.FLAGGED, "middleware", ip="203.0.113.5", field="query.q",
                         rule="libinjection.xss", evidence=attack, path="/search", ts=now - timedelta(seconds=5)),
           SecurityEvent("default", "xss", Action.FLAGGED, "leads", ip="203.0.113.5", field="form.message",
                         rule="libinjection.xss", evidence="<svg onload=x>", path="/api/leads", ts=now),
           # another attacker's event is not this incident's evidence
           SecurityEvent("default", "xss", Action.FLAGGED, "middleware", ip="203.0.113.6", evidence="other", ts=now))
    incident = incident_of(client, threat="xss", severity="medium", limit="1")
    assert incident["ip"] == "203.0.113.6"
    incident = next(i for i in client.get("/api/v1/security/incidents", headers=ADMIN).json()
                    if i["ip"] == "203.0.113.5")
    detail = client.get(f"/api/v1/security/incidents/{incident['id']}", headers=ADMIN).json()
    assert detail["events"] == 2 and detail["status"] == "open"
    assert [(e["field"], e["rule"], e["evidence"], e["action"], e["source"], e["path"])
            for e in detail["recent_events"]] == [
        ("form.message", "libinjection.xss", "<svg onload=x>", "flagged", "leads", "/api/leads"),
        ("query.q", "libinjection.xss", attack, "flagged", "middleware", "/search"),
    ]
    assert all(e["ts"].endswith("Z") for e in detail["recent_events"])  # UTC, like the incident's times
    missing = client.get("/api/v1/security/incidents/99999", headers=ADMIN)
    assert missing.status_code == 404 and "path.incident_id" in missing.json()["error"]["fields"]
    assert client.get("/api/v1/security/incidents/0", headers=ADMIN).status_code == 422
    assert client.get("/api/v1/security/incidents/abc", headers=ADMIN).status_code == 422
    assert client.get(f"/api/v1/security/incidents/{incident['id']}").status_code == 401


@pytest.mark.parametrize("verdict", ["false_positive", "benign_positive"])
def test_a_harmless_verdict_lifts_the_automatic_ban_it_caused(client: TestClient, verdict: str) -> None:
    bans = client.app.state.runtime.guard.bans  # type: ignore[attr-defined]
    now = utcnow()
    # A shared office address trips the probing detector (banned automatically) and
    # was also banned by hand for something else; a second address is banned for real.
    bans.ban("198.51.100.4", seconds=600, reason="probing: more than 20 in 300s", threat="probing")
    bans.ban("198.51.100.4", seconds=600, reason="abuse report", threat=None, created_by="api")
    bans.ban("198.51.100.9", seconds=600, reason="probing: more than 20 in 300s", threat="probing")
    record(client,
           SecurityEvent("default", "probing", Action.BANNED, "middleware", ip="198.51.100.4", ts=now),
           SecurityEvent("default", "probing", Action.BANNED, "middleware", ip="198.51.100.9", ts=now))
    office = [i for i in client.get("/api/v1/security/incidents", headers=ADMIN).json() if i["ip"] == "198.51.100.4"]
    judged = client.post(f"/api/v1/security/incidents/{office[0]['id']}", headers=ADMIN,
                         json={"status": verdict, "note": "our office NAT", "by": "ana"})
    assert judged.status_code == 200 and judged.json()["status"] == verdict
    left = {(b["network"], b["created_by"]) for b in client.get("/api/v1/security/bans", headers=ADMIN).json()}
    assert left == {("198.51.100.4/32", "api"), ("198.51.100.9/32", "auto")}  # the hand ban stays
    # A real attack resolved keeps its ban.
    other = [i for i in client.get("/api/v1/security/incidents", headers=ADMIN).json() if i["ip"] == "198.51.100.9"]
    client.post(f"/api/v1/security/incidents/{other[0]['id']}", headers=ADMIN, json={"status": "resolved"})
    assert bans.banned("198.51.100.9")


def test_a_false_positive_unbans_at_once(settings_for: Callable[..., Settings]) -> None:
    with TestClient(create_app(settings_for("embedded"))) as client:
        bans = client.app.state.runtime.guard.bans  # type: ignore[attr-defined]
        bans.ban("198.51.100.4", seconds=600, reason="probing", threat="probing")
        record(client, SecurityEvent("default", "probing", Action.BANNED, "middleware", ip="198.51.100.4",
                                     ts=utcnow()))
        assert bans.banned("198.51.100.4")
        incident = incident_of(client, threat="probing")
        client.post(f"/api/v1/security/incidents/{incident['id']}", headers=ADMIN, json={"status": "false_positive"})
        assert not bans.banned("198.51.100.4")  # this replica: now, not at the next reload


def test_guessing_on_through_the_lockout_is_brute_force(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded", security={"login_max_failures": 3, "brute_force_failures": 6})
    with TestClient(create_app(settings), client=("203.0.113.50", 1)) as client:
        codes = [client.post("/api/v1/session", json={"username": "admin", "password": f"guess{i}"}).status_code
                 for i in range(8)]
        # Locked after 3 failures; the guesser goes on and is banned at the 7th failure.
        assert codes[:3] == [401] * 3 and codes[3:6] == [429] * 3 and codes[7] == 403
        again = client.post("/api/v1/session", json={"username": "admin", "password": "x"})
        assert again.json()["error"]["code"] == "banned"
        record(client)
        with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
            incident = session.scalars(select(SecurityIncident)).one()
            assert (incident.threat, incident.ip, incident.severity) == ("brute_force", "203.0.113.50", "high")


def test_an_sqli_incident_shows_the_input_not_only_the_fingerprint(client: TestClient) -> None:
    attack = "1 UNION SELECT password FROM users--"
    assert client.get("/health", params={"id": attack}).status_code == 403
    record(client)
    incident = incident_of(client, threat="sqli")
    (event,) = client.get(f"/api/v1/security/incidents/{incident['id']}", headers=ADMIN).json()["recent_events"]
    assert (event["field"], event["rule"], event["action"]) == ("query.id", "libinjection.sqli", "blocked")
    # libinjection's fingerprint, and the input as it was sent (encoded, as evasions show)
    assert event["sample"] == attack.replace(" ", "+") and event["evidence"] != event["sample"]


def test_a_ban_cannot_shut_everyone_out(settings_for: Callable[..., Settings]) -> None:
    with TestClient(create_app(settings_for("embedded")), client=("192.0.2.10", 1)) as client:
        for address, reason in (("0.0.0.0/0", "too wide"), ("10.0.0.0/1", "too wide"), ("2001:db8::/31", "too wide"),
                                ("192.0.2.0/24", "your own address"), ("192.0.2.10", "your own address")):
            refused = client.post("/api/v1/security/bans", headers=ADMIN, json={"address": address})
            assert refused.status_code == 422, address
            assert reason in refused.json()["error"]["message"] + refused.json()["error"]["fields"]["body.address"]
        assert client.get("/api/v1/security/bans", headers=ADMIN).json() == []  # and the analyst is not locked out
        for address in ("198.51.0.0/16", "2001:db8::/32", "198.51.100.7"):
            assert client.post("/api/v1/security/bans", headers=ADMIN, json={"address": address}).status_code == 201


def test_the_security_page_counts_attackers_by_country(client: TestClient) -> None:
    record(client, *(SecurityEvent("default", "probe", Action.LOGGED, "logs", ip=ip, path="/.env", ts=utcnow())
                     for ip in ("51.195.44.13", "51.195.44.13", "141.98.11.23", "203.0.113.7")))
    rows = client.app.state.runtime.events.query(  # type: ignore[attr-defined]
        "SELECT country, count(*) AS n FROM events WHERE type = 'security' GROUP BY 1 ORDER BY 1", {})
    # The geo lookup the collector and log pipeline use; a documentation address has none.
    assert [(r["country"], r["n"]) for r in rows] == [("FR", 2), ("LT", 1), (None, 1)]


def test_an_incident_without_an_address_shows_its_events(client: TestClient) -> None:
    # The collector names no address when the peer has none (an empty string, not null).
    record(client, SecurityEvent("default", "xss", Action.BLOCKED, "collect", ip="", field="url",
                                 evidence="<script>", ts=utcnow()))
    incident = incident_of(client, threat="xss")
    assert incident["ip"] == "-"
    detail = client.get(f"/api/v1/security/incidents/{incident['id']}", headers=ADMIN).json()
    assert [(e["source"], e["evidence"]) for e in detail["recent_events"]] == [("collect", "<script>")]
