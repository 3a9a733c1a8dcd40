"""Incidents: grouping, severity, automatic end of contained ones, an analyst's
verdicts, the summary (MTTD, MTTR, false-positive rate) on both backends, gauges,
notifications through the outbox interface, and one open incident per attacker even
when replicas group at the same instant."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from leadwatch.security.events import Action, SecurityEvent
from leadwatch.security.incidents import IncidentTracker, mark, summary
from leadwatch.store.migrate import upgrade_records
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN, BACKENDS

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


def event(threat: str, ip: str, minute: float, action: Action = Action.BLOCKED, **kw: Any) -> SecurityEvent:
    ts = (T0 + timedelta(minutes=minute)).replace(tzinfo=None)
    return SecurityEvent("default", threat, action, "test", ip=ip, ts=ts, evidence="e", **kw)


def tracker(settings_for: Any, clock: list[datetime], **kw: Any) -> tuple[IncidentTracker, CollectorRegistry]:
    records = RecordStore.open(settings_for("embedded"))
    upgrade_records(records.engine)
    registry = CollectorRegistry()
    return IncidentTracker(records, registry, window_seconds=900, escalate_events=3,
                           clock=lambda: clock[0], **kw), registry


def incidents(t: IncidentTracker) -> list[Any]:
    from leadwatch.security.models import SecurityIncident

    with t.records.session() as session:
        return list(session.query(SecurityIncident).order_by(SecurityIncident.id))


def test_events_group_by_address_and_threat_within_the_window(settings_for: Any) -> None:
    clock = [T0 + timedelta(minutes=1)]
    t, registry = tracker(settings_for, clock)
    t([event("sqli", "203.0.113.1", 0), event("sqli", "203.0.113.1", 0.5),
       event("xss", "203.0.113.1", 0.5, Action.FLAGGED), event("sqli", "203.0.113.2", 0.5)])
    t.process()
    clock[0] = T0 + timedelta(minutes=11)
    t([event("sqli", "203.0.113.1", 10)])  # within 15 minutes of the last: same incident
    t.process()
    clock[0] = T0 + timedelta(minutes=40)
    t([event("sqli", "203.0.113.1", 40)])  # later: the old one ended, a new one opens
    t.process()
    got = [(i.ip, i.threat, i.events, i.severity, i.status) for i in incidents(t)]
    assert got == [
        ("203.0.113.1", "sqli", 3, "critical", "resolved"),  # high, escalated at 3 events
        ("203.0.113.1", "xss", 1, "medium", "open"),  # flagged only: an analyst must close it
        ("203.0.113.2", "sqli", 1, "high", "resolved"),
        ("203.0.113.1", "sqli", 1, "high", "open"),
    ]
    first = incidents(t)[0]
    assert first.resolved_by == "auto" and first.resolved_at == T0 + timedelta(minutes=10)
    assert first.first_seen_at == T0 and first.detected_at == T0 + timedelta(minutes=1)
    assert registry.get_sample_value("leadwatch_security_incidents_open", {"severity": "medium"}) == 1
    assert registry.get_sample_value("leadwatch_security_incidents_open", {"severity": "high"}) == 1
    assert registry.get_sample_value("leadwatch_security_incidents_open", {"severity": "low"}) == 0
    t.records.close()


def test_new_incidents_are_announced_to_the_right_team(settings_for: Any) -> None:
    sent: list[tuple[str, Any]] = []
    clock = [T0]
    t, _ = tracker(settings_for, clock, receivers={"security": ["sec"], "developers": ["dev"]},
                   enqueue=lambda receiver, message, session: sent.append((receiver, message)))
    t([event("sqli", "203.0.113.1", 0), event("brute_force", "203.0.113.1", 0, Action.BANNED)])
    t.process()
    t([event("sqli", "203.0.113.1", 0.1)])
    t.process()
    assert sorted(r for r, _ in sent) == ["dev", "sec"]
    message = dict(sent)["dev"]
    assert message.subject == "[high] sqli from 203.0.113.1 on default"
    assert message.dedup_key.startswith("security-incident-") and message.severity == "critical"
    t.records.close()


def test_mttr_counts_attacks_and_benign_positives_not_the_detectors_mistakes(settings_for: Any) -> None:
    clock = [T0]
    t, _ = tracker(settings_for, clock)
    t([event("xss", f"203.0.113.{n}", 0, Action.FLAGGED) for n in (1, 2, 3)])
    t.process()
    by_ip = {i.ip: i for i in incidents(t)}
    for ip, status, minutes in (("203.0.113.1", "resolved", 4), ("203.0.113.2", "benign_positive", 10),
                                ("203.0.113.3", "false_positive", 60)):
        mark(t.records, by_ip[ip].id, status, "ana", None, at=T0 + timedelta(minutes=minutes))
    got = summary(t.records, "default", T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert got["mttr_seconds"] == 7 * 60 and got["false_positive_rate"] == 1 / 3
    t.records.close()


def test_summary_and_false_positives_through_the_api(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    now = utcnow()
    runtime.security_log.record(
        SecurityEvent("default", "sqli", Action.BLOCKED, "test", ip="203.0.113.1",
                      ts=now - timedelta(seconds=30)),
        SecurityEvent("default", "xss", Action.FLAGGED, "test", ip="203.0.113.2", ts=now),
        SecurityEvent("default", "xss", Action.FLAGGED, "test", ip="203.0.113.3", ts=now),
        SecurityEvent("default", "xss", Action.FLAGGED, "test", ip="203.0.113.4", ts=now),
    )
    runtime.security.incidents.process()
    runtime.event_buffer.flush()
    listed = client.get("/api/v1/security/incidents", headers=ADMIN, params={"status": "open"}).json()
    assert {i["threat"] for i in listed} == {"sqli", "xss"}
    snippet, attack, tag = (next(i for i in listed if i["ip"] == f"203.0.113.{n}") for n in (2, 3, 4))
    verdict = client.post(f"/api/v1/security/incidents/{snippet['id']}", headers=ADMIN,
                          json={"status": "false_positive", "note": "a code snippet", "by": "ana"})
    assert verdict.status_code == 200 and verdict.json()["status"] == "false_positive"
    resolved = client.post(f"/api/v1/security/incidents/{attack['id']}", headers=ADMIN, json={"status": "resolved"})
    assert resolved.json()["resolved_by"] == "analyst"
    # A client's own pasted tag: script, rightly detected, but harmless.
    benign = client.post(f"/api/v1/security/incidents/{tag['id']}", headers=ADMIN,
                         json={"status": "benign_positive", "note": "the client's own Google tag"})
    assert benign.status_code == 200 and benign.json()["status"] == "benign_positive"
    assert client.post("/api/v1/security/incidents/9999", headers=ADMIN, json={"status": "resolved"}).status_code == 404
    bad = client.post(f"/api/v1/security/incidents/{snippet['id']}", headers=ADMIN, json={"status": "closed"})
    assert bad.status_code == 422 and "body.status" in bad.json()["error"]["fields"]

    summary = client.get("/api/v1/security/summary", headers=ADMIN).json()
    # The benign positive is no detector's mistake: 1 false positive of 4 incidents.
    assert summary["incidents"] == 4 and summary["false_positive_rate"] == 1 / 4
    assert summary["by_status"] == {"open": 1, "false_positive": 1, "resolved": 1, "benign_positive": 1}
    assert summary["by_threat"] == {"sqli": 1, "xss": 3}
    assert 7 <= summary["mttd_seconds"] <= 40  # 30 s for the sqli, ~0 for the three others
    assert summary["mttr_seconds"] is not None and summary["mttr_seconds"] >= 0
    assert summary["events"] == {"sqli": {"blocked": 1}, "xss": {"flagged": 3}}
    assert summary["bans_active"] == 0
    assert client.get("/api/v1/security/summary", headers=ADMIN, params={"site": "nope"}).status_code == 404
    assert client.get("/api/v1/security/summary", headers=ADMIN,
                      params={"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}).status_code == 422


def test_incidents_reach_the_outbox(settings_for: Any) -> None:
    from leadwatch.app import create_app
    from leadwatch.notify.models import OutboxMessage
    from leadwatch.settings import ConfigError

    hook = {"kind": "webhook", "url": "http://127.0.0.1:9/hook"}
    settings = settings_for("embedded", notify={"receivers": {"sec": hook, "dev": hook}},
                            security={"notify_security": ["sec"], "notify_developers": ["dev"]})
    with TestClient(create_app(settings), client=("203.0.113.50", 1)) as client:
        client.get("/health", params={"q": "1' OR '1'='1"})
        client.get("/health", params={"q": "<script>alert(1)</script>"})
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.security.incidents.process()
        with runtime.records.session() as session:
            rows = {r.receiver: r.message for r in session.query(OutboxMessage)}
    assert set(rows) == {"sec", "dev"}
    assert "sqli" in rows["dev"]["subject"] and "xss" in rows["sec"]["subject"]
    try:
        bad = settings_for("embedded", security={"notify_security": ["nobody"]})
        with TestClient(create_app(bad)):
            pass
    except ConfigError as exc:
        assert "security.notify_security: no receiver 'nobody'" in str(exc)
    else:
        raise AssertionError("an unknown receiver must stop start-up")


@pytest.mark.parametrize("backend", BACKENDS)
def test_replicas_grouping_at_the_same_instant_share_one_incident(settings_for: Any, backend: str) -> None:
    """Two replicas (each its own engine and tracker) process the same attacker's events
    at the same instant, round after round: one open incident holds every event."""
    settings = settings_for(backend)
    replicas = []
    for _ in range(2):
        records = RecordStore.open(settings)
        upgrade_records(records.engine)
        replicas.append(IncidentTracker(records, CollectorRegistry(), window_seconds=900, escalate_events=1000,
                                        clock=lambda: T0 + timedelta(minutes=1)))
    rounds = 8
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(t: IncidentTracker, replica: int) -> None:
        try:
            for n in range(rounds):
                t([event("sqli", f"203.0.113.{n}", 0.1 * replica), event("xss", "203.0.113.0", 0, Action.FLAGGED)])
                barrier.wait(timeout=30)
                t.process()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=run, args=(t, i)) for i, t in enumerate(replicas)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    got = sorted((i.ip, i.threat, i.events, i.status) for i in incidents(replicas[0]))
    assert got == sorted([(f"203.0.113.{n}", "sqli", 2, "open") for n in range(rounds)]
                         + [("203.0.113.0", "xss", 2 * rounds, "open")])
    for t in replicas:
        t.records.close()


def test_the_database_refuses_a_second_open_incident(settings_for: Any) -> None:
    from leadwatch.security.models import SecurityIncident

    records = RecordStore.open(settings_for("embedded"))
    upgrade_records(records.engine)

    def incident(status: str) -> SecurityIncident:
        return SecurityIncident(site_id="default", ip="203.0.113.1", threat="sqli", severity="high",
                                status=status, first_seen_at=T0, detected_at=T0, last_seen_at=T0)

    with records.session() as session:
        session.add_all([incident("open"), incident("resolved"), incident("resolved")])
    with pytest.raises(IntegrityError), records.session() as session:
        session.add(incident("open"))
    records.close()


def test_the_migration_resolves_open_duplicates_made_before_it(settings_for: Any) -> None:
    from alembic import command

    from leadwatch.store.migrate import alembic_config

    records = RecordStore.open(settings_for("embedded"))
    config = alembic_config()
    with records.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003_security")
        for _ in range(3):
            conn.execute(text(
                "INSERT INTO security_incidents (site_id, ip, threat, severity, status, events, contained, "
                "first_seen_at, detected_at, last_seen_at) VALUES ('default', '203.0.113.1', 'sqli', 'high', "
                "'open', 1, 1, '2026-11-26 12:00:00', '2026-11-26 12:00:00', '2026-11-26 12:05:00')"))
    upgrade_records(records.engine)
    with records.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, status, note FROM security_incidents ORDER BY id")).all()
    assert [(r.status, r.note) for r in rows] == [
        ("resolved", "duplicate of incident 3"), ("resolved", "duplicate of incident 3"), ("open", None)]
    records.close()


def test_two_passes_at_once_count_each_event_once(settings_for: Any) -> None:
    """The service's tick and a caller's pass (the demo's analyst) may overlap: the
    second waits, instead of writing the events the first has taken a second time."""
    clock = [T0 + timedelta(minutes=1)]
    t, _ = tracker(settings_for, clock)
    t([event("sqli", "203.0.113.1", 0.1 * i) for i in range(3)])
    entered, release = threading.Event(), threading.Event()
    end_quiet = t._end_quiet

    def slow_end_quiet(session: Any) -> None:
        if not entered.is_set():  # the first pass holds here, its events taken
            entered.set()
            release.wait(10)
        end_quiet(session)

    t._end_quiet = slow_end_quiet  # type: ignore[method-assign]
    first = threading.Thread(target=t.process)
    first.start()
    assert entered.wait(10)
    second = threading.Thread(target=t.process)
    second.start()
    second.join(0.5)  # a second pass that did not wait would be done by now
    release.set()
    first.join(10)
    second.join(10)
    assert [(i.events, i.threat) for i in incidents(t)] == [(3, "sqli")]
