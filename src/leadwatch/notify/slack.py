"""Slack incoming webhooks: a Block Kit message (header, text, facts, link buttons)
with ``text`` as the fallback Slack shows in notifications and old clients.
Slack answers 200 ``ok``; 400/403/404 (bad payload, revoked or unknown webhook) will
not change on retry; 429 and 5xx may.
"""

from __future__ import annotations

import httpx
import orjson

from leadwatch.notify.base import Message, register
from leadwatch.notify.webhook import post
from leadwatch.settings import SlackReceiver

ICON = {"critical": ":rotating_light:", "warning": ":warning:", "info": ":information_source:"}
DONE = {"acknowledge": ":eyes: Acknowledged", "resolve": ":white_check_mark: Resolved"}
MAX_TEXT = 3000  # Slack's limit for a section's text
MAX_FIELDS = 10


def blocks(message: Message) -> dict[str, object]:
    prefix = DONE.get(message.action, ICON[message.severity])
    headline = f"{prefix} {message.subject}"
    payload: list[dict[str, object]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline[:150], "emoji": True}},
        {"type": "section", "text": {"type": "mrkdwn", "text": message.text[:MAX_TEXT] or " "}},
    ]
    if message.facts:
        fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in message.facts.items()]
        payload.append({"type": "section", "fields": fields[:MAX_FIELDS]})
    if message.links:
        buttons = [
            {"type": "button", "text": {"type": "plain_text", "text": label[:75]}, "url": url}
            for label, url in message.links.items()
        ]
        payload.append({"type": "actions", "elements": buttons[:5]})
    return {"text": f"{headline}\n{message.text}"[:MAX_TEXT], "blocks": payload}


@register("slack")
class SlackNotifier:
    kind = "slack"

    def __init__(self, config: SlackReceiver, transport: httpx.BaseTransport | None = None):
        self.url = config.webhook_url.get_secret_value()
        self.client = httpx.Client(timeout=config.timeout_seconds, transport=transport)

    def send(self, message: Message) -> None:
        post(self.client, self.url, orjson.dumps(blocks(message)),
             {"Content-Type": "application/json"}, "Slack")
