"""Stack mode end to end, with the real servers a user runs: Debian's Prometheus
scrapes two leadwatch processes and evaluates the committed rules of
deploy/prometheus/; Debian's Alertmanager, configured by leadwatch's generator (with
short group timings), routes to leadwatch's webhook and to a local receiver.

One leadwatch replica goes down. SiteDown fires, Alertmanager opens a critical
incident in leadwatch, and the critical escalation runs on an accelerated clock:
PagerDuty, then Slack, then email (a real SMTP peer). The signed link in the page
acknowledges, which stops escalation before the incident commander is called. The
replica comes back, the incident resolves and PagerDuty gets a ``resolve`` with the
trigger's ``dedup_key``. PagerDuty's and Slack's URLs point at a local receiver: the
one thing imitated, since their servers cannot run here. Everything is awaited by
polling with generous timeouts; nothing asserts how long a step took.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from email import message_from_bytes
from email.message import Message as Mail
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from leadwatch.alerting.catalogue import load_catalogue
from leadwatch.alerting.evaluator import ESCALATION_TICK
from leadwatch.alerting.generate import Target, alertmanager_config
from leadwatch.settings import load_settings
from tests.alerting.receiver import LocalReceiver, Request, pagerduty_identity
from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.servers import AlertmanagerServer, LeadwatchProcess, PrometheusServer, free_port, missing

ROOT = Path(__file__).resolve().parents[2]
RULES = sorted((ROOT / "deploy" / "prometheus").glob("*.yml"))
TIME_SCALE = 60  # escalation minutes run as seconds
# The business's critical policy, with the incident commander at the late end of its
# 15-30 minutes, so the acknowledgement has a wide window between the third step and the
# fourth on a loaded machine: steps at 0, 5, 10 and 30 s.
ESCALATION = [(0, "pagerduty-oncall"), (300, "slack-incidents-critical"),
              (600, "email-engineering-leadership"), (1800, "incident-commander")]
SITE_DOWN = {"alertname": "SiteDown", "service": "site"}
WAIT = 120  # seconds: generous bounds for a loaded machine; the usual case is far shorter


class Inbox:
    """A real SMTP server's handler (aiosmtpd) that keeps every accepted mail."""

    def __init__(self) -> None:
        self.mails: list[tuple[float, Mail]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.mails.append((time.monotonic(), message_from_bytes(envelope.content)))  # type: ignore[arg-type]
        return "250 Message accepted"


def _binary(*names: str) -> str:
    for name in names:
        if found := shutil.which(name):
            return found
    missing(f"{names[0]} not installed (apt-get install prometheus prometheus-alertmanager)")
    raise AssertionError("unreachable")


def _poll(what: str, check: Any, timeout: float = WAIT) -> Any:
    """Call ``check`` until it returns something truthy; fail saying ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
        except httpx.TransportError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.prometheus
def test_outage_pages_escalates_acknowledges_and_resolves_through_prometheus_and_alertmanager(
    tmp_path: Path,
) -> None:
    prometheus_bin = _binary("prometheus")
    alertmanager_bin = _binary("prometheus-alertmanager", "alertmanager")
    receiver = LocalReceiver()
    inbox = Inbox()
    smtp = Controller(inbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    running: list[Any] = []
    try:
        _run(tmp_path, prometheus_bin, alertmanager_bin, receiver, inbox, smtp.port, running)
    finally:
        for server in reversed(running):
            server.stop()
        smtp.stop()
        receiver.close()


def _config(path: Path, **sections: Any) -> Path:
    path.write_text(yaml.safe_dump({"synthetic": {"enabled": False}, "logging": {"level": "warning"},
                                    **sections}))
    return path


def _run(tmp: Path, prometheus_bin: str, alertmanager_bin: str, receiver: LocalReceiver, inbox: Inbox,
         smtp_port: int, running: list[Any]) -> None:
    # -- leadwatch: the replica that runs incidents, and a second one that will fail --
    main_config = _config(
        tmp / "main.yaml",
        alerting={"embedded_evaluator": False, "escalation_time_scale": TIME_SCALE, "escalation": {
            "critical": [{"after_seconds": after, "receivers": [name]} for after, name in ESCALATION]}},
        notify={"poll_interval_seconds": 0.5, "backoff_initial_seconds": 0.5, "receivers": {
            "pagerduty-oncall": {"kind": "pagerduty", "routing_key": "rk-oncall", "url": f"{receiver.url}/pagerduty"},
            "slack-incidents-critical": {"kind": "slack", "webhook_url": f"{receiver.url}/slack/incidents-critical"},
            "email-engineering-leadership": {"kind": "email", "host": "127.0.0.1", "port": smtp_port,
                                             "security": "none", "sender": "leadwatch@example.com",
                                             "to": ["leadership@example.com"]},
            "incident-commander": {"kind": "pagerduty", "routing_key": "rk-commander",
                                   "url": f"{receiver.url}/pagerduty"},
        }},
    )
    main_env = {"LEADWATCH_CONFIG": str(main_config), "LEADWATCH_DATA_DIR": str(tmp / "main-data"),
                "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN}
    main = LeadwatchProcess(main_env, tmp / "main.log").start()
    running.append(main)
    replica_env = {"LEADWATCH_CONFIG": str(_config(tmp / "replica.yaml", alerting={"embedded_evaluator": False})),
                   "LEADWATCH_DATA_DIR": str(tmp / "replica-data"), "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN}
    replica = LeadwatchProcess(replica_env, tmp / "replica.log").start()
    running.append(replica)

    # -- Alertmanager: leadwatch's generated configuration, an ingest token, short timings --
    created = subprocess.run([sys.executable, "-m", "leadwatch", "token", "create", "alertmanager", "--scope",
                              "ingest"], env=main.env, capture_output=True, text=True, timeout=120, check=False)
    assert created.returncode == 0, created.stderr
    token_file = tmp / "leadwatch-token"
    token_file.write_text(created.stdout.rsplit(": ", 1)[1].strip())
    settings = load_settings(main_config)
    config = alertmanager_config(load_catalogue(settings.alerting), settings.alerting.group_by,
                                 Target(main.url, str(token_file)))
    for route in (config["route"], *config["route"]["routes"]):
        route.update(group_wait="1s", group_interval="1s")
    for am_receiver in config["receivers"]:
        am_receiver["webhook_configs"].append({"url": f"{receiver.url}/alertmanager", "send_resolved": True})
    alertmanager = AlertmanagerServer(alertmanager_bin, tmp / "alertmanager", yaml.safe_dump(config)).start()
    running.append(alertmanager)

    # -- Prometheus: scrapes both replicas, evaluates deploy/prometheus/, alerts Alertmanager --
    prometheus = PrometheusServer(prometheus_bin, tmp / "prometheus", [f"127.0.0.1:{main.port}",
                                  f"127.0.0.1:{replica.port}"], rule_files=RULES,
                                  alertmanagers=[alertmanager.address]).start()
    running.append(prometheus)
    prometheus.wait_for('count(up{job="leadwatch"} == 1) == 2', timeout=WAIT)
    prometheus.wait_for('slo:objective:ratio{sloth_slo="availability"}', timeout=WAIT)  # rules evaluate
    assert prometheus.query('ALERTS{alertstate="firing"}') == []  # a healthy stack pages no one

    api = httpx.Client(base_url=main.url, headers=ADMIN, timeout=30)

    # -- the outage: one replica stops answering its scrapes --
    replica.stop()
    incident = _poll("an incident opened by Alertmanager", lambda: next(iter(
        api.get("/api/v1/incidents", params={"status": "open"}).json()["incidents"]), None))
    assert incident["source"] == "alertmanager" and incident["severity"] == "critical"
    assert incident["group_labels"] == SITE_DOWN
    assert incident["runbook_url"].endswith("/site-down.md")
    key = incident["dedup_key"]
    firing = receiver.wait_until(
        lambda got: any(r.path == "/alertmanager" and r.body["status"] == "firing" for r in got),
        "Alertmanager's own notification to the local receiver")
    am_firing = next(r for r in firing if r.path == "/alertmanager")
    assert am_firing.body["receiver"] == "leadwatch-critical" and am_firing.body["groupLabels"] == SITE_DOWN

    # -- escalation: PagerDuty at once, then Slack, then email, in order --
    def pages(action: str, routing_key: str = "rk-oncall") -> list[Request]:
        return [r for r in receiver.delivered("/pagerduty")
                if r.body["event_action"] == action and r.body["routing_key"] == routing_key]

    def slack() -> list[Request]:
        return receiver.delivered("/slack/incidents-critical")

    _poll("PagerDuty, Slack and email to be told in turn", lambda: pages("trigger") and slack() and inbox.mails)
    trigger, first_slack, first_mail = pages("trigger")[0], slack()[0], inbox.mails[0]
    assert trigger.at < first_slack.at < first_mail[0]
    assert trigger.body["dedup_key"] == key and trigger.body["payload"]["severity"] == "critical"
    assert first_slack.body["text"].startswith(":rotating_light: [CRITICAL]")
    assert first_mail[1]["X-Leadwatch-Dedup-Key"] == key and first_mail[1]["To"] == "leadership@example.com"

    # -- acknowledging through the page's signed link stops escalation --
    link = next(link["href"] for link in trigger.body["links"] if link["text"] == "Acknowledge")
    assert httpx.get(link, timeout=30).status_code == 200  # a confirmation page: a GET never acts
    acked = httpx.post(link, timeout=30)
    assert acked.status_code == 200 and acked.json()["status"] == "acknowledged", acked.text
    detail = api.get(f"/api/v1/incidents/{incident['id']}").json()
    assert detail["escalation_step"] == 3, "acknowledged only after the incident commander's step ran"
    assert detail["next_escalation_at"] is None
    _poll("acknowledge to PagerDuty, Slack and email",
          lambda: pages("acknowledge") and len(slack()) >= 2 and len(inbox.mails) >= 2)
    assert pages("acknowledge")[0].body["dedup_key"] == key
    assert slack()[1].body["text"].startswith(":eyes: Acknowledged")
    # Let the incident commander's step come due and pass: it must not run.
    opened_at = datetime.fromisoformat(detail["opened_at"]).timestamp()
    due = opened_at + ESCALATION[3][0] / TIME_SCALE + 3 * ESCALATION_TICK
    time.sleep(max(0.0, due - time.time()))

    # -- recovery: the replica is back, the alert resolves, so does the incident --
    running.append(LeadwatchProcess(replica_env, tmp / "replica.log", port=replica.port).start())
    resolved = _poll("the incident to resolve", lambda: (
        found := api.get(f"/api/v1/incidents/{incident['id']}").json())["status"] == "resolved" and found)
    _poll("resolve to PagerDuty", lambda: pages("resolve"))
    assert pages("resolve")[0].body["dedup_key"] == key
    receiver.wait_until(
        lambda got: any(r.path == "/alertmanager" and r.body["status"] == "resolved" for r in got),
        "Alertmanager's resolved notification to the local receiver")
    _poll("resolve to Slack and email", lambda: len(slack()) >= 3 and len(inbox.mails) >= 3)
    assert slack()[2].body["text"].startswith(":white_check_mark: Resolved")

    # Each message exactly once; the incident commander was never called.
    counts = Counter(pagerduty_identity(r) for r in receiver.delivered("/pagerduty"))
    assert counts == {("/pagerduty", "rk-oncall", key, action): 1 for action in ("trigger", "acknowledge", "resolve")}
    assert len(slack()) == 3 and len(inbox.mails) == 3
    assert [m["Subject"].startswith("[CRITICAL]") for _, m in inbox.mails] == [True, True, True]
    kinds = [t["kind"] for t in resolved["timeline"]]
    assert kinds == ["opened", "escalated", "escalated", "escalated", "acknowledged", "resolved"], kinds
    assert resolved["notified"] == ["email-engineering-leadership", "pagerduty-oncall", "slack-incidents-critical"]
    stats = api.get("/api/v1/incidents/stats").json()
    assert stats["incidents"] == 1 and stats["mtta_seconds"] is not None and stats["mttr_seconds"] is not None
