"""Email receivers: the message as a plain-text email through an SMTP server.

STARTTLS is required by default (``security: starttls``): a server that does not
offer it is refused rather than spoken to in clear text. SMTP's own codes decide
retries: 4xx replies and lost connections are temporary; 5xx replies (a refused
login, sender or recipient) and TLS failures are not.
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import make_msgid

from leadwatch.notify.base import DeliveryError, Message, register
from leadwatch.settings import EmailReceiver

SUBJECT_PREFIX = {"critical": "[CRITICAL] ", "warning": "[WARNING] ", "info": ""}


def render(message: Message, sender: str, to: list[str]) -> EmailMessage:
    """The email of ``message``; a message for a person (``message.to``) goes to them,
    from its own sender if it has one, instead of to the receiver's recipients."""
    mail = EmailMessage()
    mail["From"] = message.sender or sender
    mail["To"] = ", ".join(message.to or to)
    if message.reply_to:
        mail["Reply-To"] = message.reply_to
    # RFC 3834: every mail leadwatch sends is automatic; one to a person answers their
    # form, so their vacation responder must not answer it back.
    mail["Auto-Submitted"] = "auto-replied" if message.to else "auto-generated"
    # Header injection is impossible through the subject: line breaks are folded away.
    mail["Subject"] = SUBJECT_PREFIX[message.severity] + " ".join(message.subject.split())
    mail["Message-ID"] = make_msgid(domain="leadwatch")
    if message.dedup_key:
        mail["X-Leadwatch-Dedup-Key"] = " ".join(message.dedup_key.split())
    lines = [message.text, ""]
    width = max((len(k) for k in message.facts), default=0)
    lines += [f"{k.ljust(width)}  {v}" for k, v in message.facts.items()]
    if message.links:
        lines += ["", *(f"{label}: {url}" for label, url in message.links.items())]
    mail.set_content("\n".join(lines).rstrip() + "\n")
    return mail


@register("email")
class EmailNotifier:
    kind = "email"

    def __init__(self, config: EmailReceiver):
        self.config = config

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.config.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        if c.security == "tls":
            return smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout_seconds,
                                    context=self._tls_context())
        smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout_seconds)
        try:
            smtp.ehlo()
            if c.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise DeliveryError(f"{c.host} does not offer STARTTLS", retryable=False)
                smtp.starttls(context=self._tls_context())
                smtp.ehlo()
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: Message) -> None:
        c = self.config
        mail = render(message, c.sender, c.to)
        try:
            with self._connect() as smtp:
                if c.username:
                    password = c.password.get_secret_value() if c.password else ""
                    smtp.login(c.username, password)
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise DeliveryError(f"every recipient refused: {exc.recipients}",
                                retryable=all(400 <= code < 500 for code in codes)) from None
        except smtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                                retryable=400 <= exc.smtp_code < 500) from None
        except ssl.SSLError as exc:
            raise DeliveryError(f"TLS with {c.host} failed: {exc}", retryable=False) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP {c.host}:{c.port}: {type(exc).__name__}: {exc}",
                                retryable=True) from None
        if refused:
            # Some recipients took it: retrying would send them a second copy.
            raise DeliveryError(f"some recipients refused: {refused}", retryable=False)
