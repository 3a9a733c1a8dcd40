"""Receiver outage: PagerDuty, Slack and a webhook (one local receiver standing in
for their servers) answer 503 to every other request, and leadwatch restarts in the
middle. Through the real outbox worker, every notification of every incident
(trigger at each escalation step, acknowledge, resolve) is eventually delivered
exactly once: the receiver counts its deliveries per message identity.

Alertmanager posts the groups it flushes together concurrently, so the incidents
open concurrently here too: each escalation step must run once, however many
threads (or replicas) look for due steps at the same moment."""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from leadwatch.app import create_app
from leadwatch.notify.models import SENT, OutboxMessage
from leadwatch.settings import Settings
from tests.alerting.receiver import LocalReceiver, Request
from tests.conftest import ADMIN

INCIDENTS = 12
ACTIONS = {"trigger": ":rotating_light:", "acknowledge": ":eyes: Acknowledged", "resolve": ":white_check_mark: Resolved"}


@pytest.fixture
def flaky() -> Iterator[LocalReceiver]:
    receiver = LocalReceiver(fail_every=2)
    yield receiver
    receiver.close()


def identity(request: Request) -> Hashable:
    """What makes one message, per receiver kind."""
    body = request.body
    if request.path == "/pagerduty":
        return (request.path, body["routing_key"], body["dedup_key"], body["event_action"])
    if request.path.startswith("/slack/"):
        return (request.path, body["text"].split("\n", 1)[0])  # the headline: action and incident title
    return (request.path, body["dedup_key"], body["action"])


def payload(i: int, status: str) -> dict[str, Any]:
    group = {"alertname": "SiteDown", "service": f"site-{i}"}
    return {
        "version": "4", "groupKey": f"{{}}:{{service=\"site-{i}\"}}", "status": status,
        "receiver": "leadwatch-critical", "groupLabels": group,
        "alerts": [{"status": status, "labels": {**group, "severity": "critical"},
                    "startsAt": "2026-11-26T10:00:00Z",
                    "annotations": {"summary": f"Site {i} is down.", "runbook_url": "https://x/site-down.md"}}],
    }


def _poll(what: str, check: Callable[[], Any], timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_notification_is_delivered_exactly_once_through_a_failing_receiver(
    backend: str, settings_for: Callable[..., Settings], flaky: LocalReceiver
) -> None:
    settings = settings_for(
        backend,
        notify={
            "receivers": {
                "pagerduty-oncall": {"kind": "pagerduty", "routing_key": "rk-oncall", "url": f"{flaky.url}/pagerduty"},
                "slack-incidents-critical": {"kind": "slack", "webhook_url": f"{flaky.url}/slack/incidents-critical"},
                "incident-commander": {"kind": "webhook", "url": f"{flaky.url}/webhook/incident-commander"},
            },
            "poll_interval_seconds": 0.1, "backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.5,
            "max_attempts": 40,
        },
        synthetic={"enabled": False},
        alerting={
            "embedded_evaluator": False,
            "escalation_time_scale": 3600,  # every step comes due within a second
            "escalation": {"critical": [
                {"after_seconds": 0, "receivers": ["pagerduty-oncall"]},
                {"after_seconds": 300, "receivers": ["slack-incidents-critical"]},
                {"after_seconds": 900, "receivers": ["incident-commander"]},
            ]},
        },
    )

    # Phase 1: incidents open and escalate fully while the receiver fails every other request.
    with TestClient(create_app(settings)) as client:
        def fire(i: int) -> int:
            opened = client.post("/api/v1/alertmanager/webhook", json=payload(i, "firing"), headers=ADMIN)
            assert opened.status_code == 200, opened.text
            return int(opened.json()["incident"])

        with ThreadPoolExecutor(INCIDENTS) as pool:
            ids = dict(enumerate(pool.map(fire, range(INCIDENTS))))

        def escalated() -> list[dict[str, Any]] | None:
            found = client.get("/api/v1/incidents", headers=ADMIN).json()["incidents"]
            return found if all(f["escalation_step"] == 3 for f in found) else None

        incidents = {f["id"]: f for f in _poll("every escalation step to run", escalated)}
        assert sorted(incidents) == sorted(ids.values())
    # leadwatch stops (and restarts below) with deliveries still pending or being retried.

    # Phase 2: a fresh process on the same stores; half the incidents acknowledged, all resolved.
    with TestClient(create_app(settings)) as client:
        acknowledged = set(list(ids)[::2])
        for i in acknowledged:
            acked = client.post(f"/api/v1/incidents/{ids[i]}/acknowledge", headers=ADMIN)
            assert acked.json()["status"] == "acknowledged", acked.text
        for i in ids:
            resolved = client.post("/api/v1/alertmanager/webhook", json=payload(i, "resolved"), headers=ADMIN)
            assert resolved.json()["status"] == "resolved", resolved.text

        expected: set[Hashable] = set()
        for i, incident_id in ids.items():
            key = incidents[incident_id]["dedup_key"]
            for action in ("trigger", "acknowledge", "resolve"):
                if action == "acknowledge" and i not in acknowledged:
                    continue
                headline = f"{ACTIONS[action]} [CRITICAL] Site {i} is down."
                expected |= {("/pagerduty", "rk-oncall", key, action),
                             ("/slack/incidents-critical", headline),
                             ("/webhook/incident-commander", key, action)}

        runtime = client.app.state.runtime

        def finished() -> list[OutboxMessage] | None:
            with runtime.records.session() as session:
                rows = session.scalars(select(OutboxMessage)).all()
            return rows if rows and all(r.status != "pending" for r in rows) else None

        flaky.wait_until(lambda got: {identity(r) for r in got} >= expected, "every notification")
        rows = _poll("the outbox to finish", finished)

    counts = flaky.count(identity)
    assert set(counts) == expected
    assert {k: n for k, n in counts.items() if n != 1} == {}, "delivered more than once"
    assert flaky.refused() > 0  # the receiver really did fail
    assert all(r.status == SENT for r in rows), [(r.id, r.status, r.last_error) for r in rows]
    assert len(rows) == len(expected)
    # Every attempt the outbox recorded is one request the receiver saw, and vice versa.
    assert sum(r.attempts for r in rows) == len(flaky.requests)
