"""The automated response to poor and low leads, delivered by the outbox to a real SMTP
server (aiosmtpd) on loopback: who gets it, what it says, and who never does."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message as Mail
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi.testclient import TestClient
from sqlalchemy import select

from leadwatch.app import create_app
from leadwatch.leads.models import Lead
from leadwatch.notify.models import OutboxMessage
from leadwatch.settings import ConfigError, Settings, load_settings
from tests.servers import free_port


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.mails.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


# Low sub-scores everywhere: a lead is poor (10); a phone lifts it to low (32).
SCORING = {"source_scores": {s: 10 for s in ("organic", "referral", "direct", "email", "social",
                                             "paid", "unknown")},
           "engagement_neutral": 10, "completion_base": 10, "completion_phone": 100,
           "demographic_unknown": 10}
CONSENT = {"processing": True}


@pytest.fixture
def make_client(
    smtp: tuple[Controller, Inbox], settings_for: Callable[..., Settings]
) -> Iterator[Callable[..., TestClient]]:
    controller, _ = smtp
    clients: list[TestClient] = []

    def make(**autoreply: Any) -> TestClient:
        settings = settings_for(
            "embedded",
            sites=[{"id": "default", "name": "Reboot Media", "domain": "rebootmedia.example"}],
            notify={"receivers": {"mail": {"kind": "email", "host": "127.0.0.1", "port": controller.port,
                                           "security": "none", "sender": "leadwatch@rebootmedia.example",
                                           "to": ["sales@rebootmedia.example"]}}},
            leads={"scoring": SCORING, "sites": {"default": {"autoreply": {
                "enabled": True, "receiver": "mail", "sender": "Reboot Media <hello@rebootmedia.example>",
                "reply_to": "sales@rebootmedia.example",
                "subject": "Thanks, {{ name }}\nBcc: evil@example.com",
                "body": "Hello {{ name }}{% if company %} of {{ company }}{% endif %},\n"
                        "we will be in touch from {{ domain }}.\n", **autoreply}}}},
            security={"enabled": False},
        )
        client = TestClient(create_app(settings)).__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def submit(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/leads", json={"name": "Ann Example", "email": "Ann@Example.com",
                                               "consent": CONSENT, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def outbox(client: TestClient) -> list[OutboxMessage]:
    with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def delivered(inbox: Inbox, count: int) -> list[Mail]:
    """The mails once ``count`` have arrived (the outbox worker sends after the commit)."""
    deadline = time.monotonic() + 30
    while len(inbox.mails) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(inbox.mails) == count
    return [message_from_bytes(m.original_content) for m in inbox.mails]


def test_a_poor_lead_gets_the_acknowledgement(
    make_client: Callable[..., TestClient], smtp: tuple[Controller, Inbox]
) -> None:
    _, inbox = smtp
    client = make_client()
    lead = submit(client, company="Acme")
    assert lead["tier"] == "poor"
    (row,) = outbox(client)  # committed with the lead
    assert row.receiver == "mail" and row.message["to"] == ["ann@example.com"]
    (mail,) = delivered(inbox, 1)
    assert inbox.mails[0].rcpt_tos == ["ann@example.com"]  # the submitter, not the sales team
    assert mail["From"] == "Reboot Media <hello@rebootmedia.example>"
    assert mail["Reply-To"] == "sales@rebootmedia.example"
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["Subject"] == "Thanks, Ann Example Bcc: evil@example.com" and mail["Bcc"] is None
    body = mail.get_payload(decode=True).decode().replace("\r\n", "\n")  # SMTP line ends
    assert body == "Hello Ann Example of Acme,\nwe will be in touch from rebootmedia.example.\n"


def test_low_leads_get_it_by_default_and_the_tiers_are_the_sites_choice(
    make_client: Callable[..., TestClient], smtp: tuple[Controller, Inbox]
) -> None:
    _, inbox = smtp
    by_default = make_client()
    assert submit(by_default, phone="+44 20 7946 0000")["tier"] == "low"
    assert len(outbox(by_default)) == 1
    only_poor = make_client(tiers=["poor"])
    assert submit(only_poor, email="bo@example.com", phone="+44 20 7946 0000")["tier"] == "low"
    assert len(outbox(only_poor)) == 1  # the same store: still only the first lead's
    delivered(inbox, 1)


def test_no_acknowledgement_without_consent_for_refused_or_flagged_submissions(
    make_client: Callable[..., TestClient],
) -> None:
    client = make_client()
    submit(client, consent={"processing": False, "marketing": True})
    submit(client, email="bot@example.com", website="http://spam.example")  # the honeypot
    submit(client, email="xss@example.com", message="<script>alert(1)</script>")
    first = submit(client, email="twice@example.com")
    again = submit(client, email="twice@example.com")
    with client.app.state.runtime.records.session() as session:  # type: ignore[attr-defined]
        reasons = [lead.rejected_reason for lead in session.scalars(select(Lead).order_by(Lead.id))]
    assert reasons == [None, "spam_honeypot", None, None, "duplicate"]
    assert [row.message["dedup_key"] for row in outbox(client)] == [f"lead-reply-default-{first['id']}"]
    assert again["id"] != first["id"]


def test_consent_can_be_waived_by_the_site(make_client: Callable[..., TestClient]) -> None:
    client = make_client(require_processing_consent=False)
    submit(client, consent=None)
    assert len(outbox(client)) == 1


def test_settings_refuse_an_autoreply_that_cannot_be_sent(tmp_path: Any) -> None:
    hook = {"hook": {"kind": "webhook", "url": "http://127.0.0.1:9/"}}
    with pytest.raises(ConfigError) as caught:
        load_settings(None, storage={"data_dir": tmp_path}, notify={"receivers": hook},
                      leads={"sites": {"default": {"autoreply": {"enabled": True, "receiver": "hook"}}}})
    assert "leads.sites.default.autoreply.receiver: 'hook' is not an email receiver" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(None, storage={"data_dir": tmp_path},
                      leads={"sites": {"default": {"autoreply": {"body": "Dear {{ first_name }}"}}}})
    assert "leads.sites.default.autoreply.body" in str(caught.value)
    assert "unknown variables first_name" in str(caught.value)
