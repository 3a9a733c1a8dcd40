"""The notifier interface every receiver kind implements.

A notifier turns a :class:`Message` into one delivery attempt. It raises
:class:`DeliveryError` when the receiver did not take it, saying whether trying
again could help (a 429 or 5xx: yes; a 400: no). Retrying, backoff and
persistence belong to the outbox, not to notifiers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Severity = Literal["info", "warning", "critical"]
Action = Literal["trigger", "acknowledge", "resolve"]


@dataclass(frozen=True)
class Message:
    subject: str
    text: str  # the plain-text body; every notifier can show this much
    severity: Severity = "info"
    # Stable identity of the thing notified about (an incident, a lead): PagerDuty's
    # dedup_key, and what lets a receiver thread or replace earlier messages.
    dedup_key: str | None = None
    action: Action = "trigger"
    links: dict[str, str] = field(default_factory=dict)  # label -> URL
    facts: dict[str, str] = field(default_factory=dict)  # label -> value, shown as a table
    # Email only: a message for a person (the automated response to a lead) rather than
    # for the receiver's own recipients, with its own From and Reply-To. Settings allow
    # them on email receivers only.
    to: tuple[str, ...] = ()
    sender: str | None = None
    reply_to: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "subject": self.subject,
            "text": self.text,
            "severity": self.severity,
            "dedup_key": self.dedup_key,
            "action": self.action,
            "links": dict(self.links),
            "facts": dict(self.facts),
        }
        # Only when set: team messages (and webhook bodies) keep their shape.
        if self.to:
            data.update(to=list(self.to), sender=self.sender, reply_to=self.reply_to)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Message:
        return cls(**{**data, "to": tuple(data.get("to", ()))})


class DeliveryError(Exception):
    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None):
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after  # seconds the receiver asked us to wait, if it did


class Notifier(Protocol):
    kind: str

    def send(self, message: Message) -> None:
        """Deliver ``message`` once, or raise DeliveryError."""


_KINDS: dict[str, Callable[..., Notifier]] = {}


def register(kind: str) -> Callable[[Callable[..., Notifier]], Callable[..., Notifier]]:
    """Class decorator: make a notifier kind constructible by name from settings."""

    def add(factory: Callable[..., Notifier]) -> Callable[..., Notifier]:
        if kind in _KINDS:
            raise ValueError(f"notifier kind {kind!r} registered twice")
        _KINDS[kind] = factory
        return factory

    return add


def notifier_kinds() -> dict[str, Callable[..., Notifier]]:
    return dict(_KINDS)
