"""Incidents end to end in process: Alertmanager's webhook opens one, escalation
enqueues the tier's first step through the outbox to PagerDuty (a local receiver
here), acknowledging stops escalation and tells PagerDuty, recovery resolves with
the same dedup_key; silences via the API; signed links act without a token."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from tests.alerting.receiver import LocalReceiver
from tests.conftest import ADMIN


def received(receiver: LocalReceiver, count: int) -> list[dict[str, Any]]:
    deliveries = receiver.wait_until(lambda d: len(d) >= count, f"{count} PagerDuty events")
    return [r.body for r in deliveries]


def payload(status: str) -> dict[str, Any]:
    labels = {"alertname": "SiteDown", "service": "site", "severity": "critical", "journey": "homepage"}
    return {
        "version": "4", "groupKey": "{}:{alertname=\"SiteDown\"}", "status": status,
        "receiver": "leadwatch-critical", "groupLabels": {"alertname": "SiteDown", "service": "site"},
        "alerts": [{"status": status, "labels": labels, "startsAt": "2026-11-26T10:00:00Z",
                    "annotations": {"summary": "The site is unreachable.", "runbook_url": "https://x/site-down.md"}}],
    }


def test_alertmanager_incident_escalates_acknowledges_and_resolves(settings_for, receiver: LocalReceiver) -> None:
    settings = settings_for(
        notify={"receivers": {"pagerduty-oncall": {"kind": "pagerduty", "routing_key": "rk-123",
                                                   "url": f"{receiver.url}/pagerduty"}},
                "poll_interval_seconds": 0.2},
        alerting={"embedded_evaluator": False},
    )
    with TestClient(create_app(settings)) as client:
        opened = client.post("/api/v1/alertmanager/webhook", json=payload("firing"), headers=ADMIN)
        assert opened.status_code == 200, opened.text
        incident_id = opened.json()["incident"]
        trigger = received(receiver, 1)[0]
        assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "rk-123"
        assert trigger["payload"]["severity"] == "critical"

        assert client.post(f"/api/v1/incidents/{incident_id}/acknowledge", json={"by": "ana"},
                           headers=ADMIN).json()["status"] == "acknowledged"
        ack = received(receiver, 2)[1]
        assert ack["event_action"] == "acknowledge" and ack["dedup_key"] == trigger["dedup_key"]

        resolved = client.post("/api/v1/alertmanager/webhook", json=payload("resolved"), headers=ADMIN)
        assert resolved.json()["status"] == "resolved"
        resolve = received(receiver, 3)[2]
        assert resolve["event_action"] == "resolve" and resolve["dedup_key"] == trigger["dedup_key"]

        detail = client.get(f"/api/v1/incidents/{incident_id}", headers=ADMIN).json()
        kinds = [t["kind"] for t in detail["timeline"]]
        assert kinds == ["opened", "escalated", "acknowledged", "resolved"]
        stats = client.get("/api/v1/incidents/stats", headers=ADMIN).json()
        assert stats["incidents"] == 1 and stats["mtta_seconds"] is not None


def test_signed_link_acknowledges_without_a_token(settings_for) -> None:
    settings = settings_for(alerting={"embedded_evaluator": False})
    with TestClient(create_app(settings)) as client:
        incident_id = client.post("/api/v1/alertmanager/webhook", json=payload("firing"),
                                  headers=ADMIN).json()["incident"]
        link = client.app.state.runtime.alerting.incidents.link(incident_id, "acknowledge")
        path = link.split("://", 1)[1].split("/", 1)[1]
        assert client.get("/" + path).status_code == 200  # a confirmation page; nothing done yet
        assert client.get(f"/api/v1/incidents/{incident_id}", headers=ADMIN).json()["status"] == "open"
        assert client.post("/" + path).json()["status"] == "acknowledged"
        forged = "/" + path[:-1] + ("0" if path[-1] != "0" else "1")
        assert client.post(forged).status_code == 403


def test_silences_api_validates_and_lists(client: TestClient) -> None:
    bad = client.post("/api/v1/silences", json={"matchers": ["not a matcher"], "comment": "x",
                                                "duration_seconds": 3600}, headers=ADMIN)
    assert bad.status_code == 422 and "body.matchers" in bad.json()["error"]["fields"]
    made = client.post("/api/v1/silences", json={"matchers": ["service=web"], "comment": "deploy",
                                                 "duration_seconds": 3600, "kind": "maintenance"}, headers=ADMIN)
    assert made.status_code == 201
    listed = client.get("/api/v1/silences", headers=ADMIN).json()["silences"]
    assert [s["matchers"] for s in listed] == [["service=web"]]
    assert client.delete(f"/api/v1/silences/{made.json()['id']}", headers=ADMIN).json()["expired"]
    assert client.get("/api/v1/silences", headers=ADMIN).json()["silences"] == []


def test_slos_report_each_spec(client: TestClient) -> None:
    slos = client.get("/api/v1/slos", headers=ADMIN).json()["slos"]
    availability = next(s for s in slos if s["name"] == "availability")
    assert availability["objective_percent"] == 99.95
    assert availability["error_budget_seconds"] == pytest.approx(0.0005 * 30 * 86400)
