"""Email notifier against a real SMTP server (aiosmtpd) on loopback, with STARTTLS."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from leadwatch.notify.base import DeliveryError, Message
from leadwatch.notify.email import EmailNotifier
from leadwatch.settings import EmailReceiver
from tests.servers import free_port


class Inbox:
    def __init__(self) -> None:
        self.mails: list[Envelope] = []
        self.refuse: str | None = None  # an SMTP reply to give to RCPT TO

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,  # noqa: N802
                          options: list[str]) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.mails.append(envelope)
        return "250 Message accepted"


def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: object) -> object:
    from aiosmtpd.smtp import AuthResult, LoginPassword

    given = (auth_data.login, auth_data.password) if isinstance(auth_data, LoginPassword) else None
    ok = given in {("sales", "pw"), (b"sales", b"pw")}
    # handled=False: aiosmtpd itself answers 535 to a failure.
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def tls_context(tmp_path_factory: pytest.TempPathFactory) -> ssl.SSLContext:
    folder: Path = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "1", "-subj", "/CN=localhost"],
                   check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def smtp(tls_context: ssl.SSLContext) -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), tls_context=tls_context,
                            require_starttls=True, authenticator=authenticate, auth_require_tls=True)
    controller.start()
    yield controller, inbox
    controller.stop()


def receiver(controller: Controller, **options: object) -> EmailReceiver:
    return EmailReceiver(kind="email", host="127.0.0.1", port=controller.port, verify_tls=False,
                         sender="leadwatch@example.com", to=["sales@example.com"],
                         timeout_seconds=20, **options)


MESSAGE = Message("Premium lead: Ann\r\nBcc: evil@example.com", "New premium lead.",
                  severity="critical", dedup_key="lead-1", facts={"Score": "93"},
                  links={"Lead": "https://lw.example/api/v1/leads/1"})


def test_sends_over_starttls_with_login(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    EmailNotifier(receiver(controller, username="sales", password="pw")).send(MESSAGE)
    (envelope,) = inbox.mails
    assert envelope.rcpt_tos == ["sales@example.com"]
    mail = message_from_bytes(envelope.original_content)
    # The line break in the subject was folded away: no header injection.
    assert mail["Subject"] == "[CRITICAL] Premium lead: Ann Bcc: evil@example.com"
    assert mail["Bcc"] is None and mail["X-Leadwatch-Dedup-Key"] == "lead-1"
    body = mail.get_payload(decode=True).decode()
    assert "New premium lead." in body and "Score  93" in body and "https://lw.example/api/v1/leads/1" in body


def test_a_wrong_password_is_not_retried(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(receiver(controller, username="sales", password="wrong")).send(MESSAGE)
    assert not caught.value.retryable and inbox.mails == []


@pytest.mark.parametrize(("reply", "retryable"), [("451 try later", True), ("550 no such user", False)])
def test_smtp_reply_codes_decide_retries(smtp: tuple[Controller, Inbox], reply: str, retryable: bool) -> None:
    controller, inbox = smtp
    inbox.refuse = reply
    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(receiver(controller, username="sales", password="pw")).send(MESSAGE)
    assert caught.value.retryable is retryable


def test_an_unverifiable_certificate_is_refused(smtp: tuple[Controller, Inbox]) -> None:
    controller, _ = smtp
    config = receiver(controller).model_copy(update={"verify_tls": True})
    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(config).send(MESSAGE)
    assert not caught.value.retryable


def test_a_server_down_is_retryable() -> None:
    config = EmailReceiver(kind="email", host="127.0.0.1", port=free_port(), sender="a@b.example",
                           to=["c@d.example"], timeout_seconds=5)
    with pytest.raises(DeliveryError) as caught:
        EmailNotifier(config).send(MESSAGE)
    assert caught.value.retryable
