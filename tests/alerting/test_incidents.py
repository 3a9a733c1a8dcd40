"""Incidents end to end in process: Alertmanager's webhook opens one, escalation
enqueues the tier's first step through the outbox to PagerDuty (a local receiver
here), acknowledging stops escalation and tells PagerDuty, recovery resolves with
the same dedup_key; silences via the API; signed links act without a token."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from tests.conftest import ADMIN


class Receiver:
    """A local stand-in for PagerDuty's and Slack's servers: records every body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        received = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                received.append(orjson.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(202)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, count: int, timeout: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.bodies) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(self.bodies) >= count, self.bodies
        return self.bodies


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def payload(status: str) -> dict[str, Any]:
    labels = {"alertname": "SiteDown", "service": "site", "severity": "critical", "journey": "homepage"}
    return {
        "version": "4", "groupKey": "{}:{alertname=\"SiteDown\"}", "status": status,
        "receiver": "leadwatch-critical", "groupLabels": {"alertname": "SiteDown", "service": "site"},
        "alerts": [{"status": status, "labels": labels, "startsAt": "2026-11-26T10:00:00Z",
                    "annotations": {"summary": "The site is unreachable.", "runbook_url": "https://x/site-down.md"}}],
    }


def test_alertmanager_incident_escalates_acknowledges_and_resolves(settings_for, receiver: Receiver) -> None:
    settings = settings_for(
        notify={"receivers": {"pagerduty-oncall": {"kind": "pagerduty", "routing_key": "rk-123",
                                                   "url": receiver.url}},
                "poll_interval_seconds": 0.2},
        alerting={"embedded_evaluator": False},
    )
    with TestClient(create_app(settings)) as client:
        opened = client.post("/api/v1/alertmanager/webhook", json=payload("firing"), headers=ADMIN)
        assert opened.status_code == 200, opened.text
        incident_id = opened.json()["incident"]
        trigger = receiver.wait_for(1)[0]
        assert trigger["event_action"] == "trigger" and trigger["routing_key"] == "rk-123"
        assert trigger["payload"]["severity"] == "critical"

        assert client.post(f"/api/v1/incidents/{incident_id}/acknowledge", json={"by": "ana"},
                           headers=ADMIN).json()["status"] == "acknowledged"
        ack = receiver.wait_for(2)[1]
        assert ack["event_action"] == "acknowledge" and ack["dedup_key"] == trigger["dedup_key"]

        resolved = client.post("/api/v1/alertmanager/webhook", json=payload("resolved"), headers=ADMIN)
        assert resolved.json()["status"] == "resolved"
        resolve = receiver.wait_for(3)[2]
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
