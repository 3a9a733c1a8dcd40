"""PagerDuty Events API v2: one event per message, ``trigger``, ``acknowledge`` or
``resolve``, all carrying the message's ``dedup_key`` so PagerDuty threads them into
one PagerDuty incident (and a repeated trigger is deduplicated, not a second page).
PagerDuty answers 202 when it took the event, 400 for an event it will never take,
429 when rate-limited and 5xx when it could not take it now.
"""

from __future__ import annotations

import httpx
import orjson

from leadwatch.notify.base import DeliveryError, Message, register
from leadwatch.notify.webhook import post
from leadwatch.settings import PagerDutyReceiver

# PagerDuty's severities: critical, error, warning, info.
SEVERITY = {"critical": "critical", "warning": "warning", "info": "info"}
MAX_SUMMARY = 1024


def event(message: Message, routing_key: str, source: str) -> dict[str, object]:
    if not message.dedup_key:
        raise DeliveryError("a PagerDuty event needs a dedup_key", retryable=False)
    body: dict[str, object] = {
        "routing_key": routing_key,
        "event_action": message.action,
        "dedup_key": message.dedup_key,
    }
    if message.action == "trigger":
        body["payload"] = {
            "summary": message.subject[:MAX_SUMMARY],
            "source": source,
            "severity": SEVERITY[message.severity],
            "custom_details": {"text": message.text, **message.facts},
        }
        body["links"] = [{"href": url, "text": label} for label, url in message.links.items()]
    return body


@register("pagerduty")
class PagerDutyNotifier:
    kind = "pagerduty"

    def __init__(self, config: PagerDutyReceiver, transport: httpx.BaseTransport | None = None):
        self.config = config
        self.client = httpx.Client(timeout=config.timeout_seconds, transport=transport)

    def send(self, message: Message) -> None:
        body = event(message, self.config.routing_key.get_secret_value(), self.config.source)
        post(self.client, self.config.url, orjson.dumps(body),
             {"Content-Type": "application/json"}, "PagerDuty")
