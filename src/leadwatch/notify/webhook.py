"""Webhook receivers: the message as a JSON POST, optionally signed.

With a ``secret``, the header ``X-Leadwatch-Signature: sha256=<hex>`` carries the
HMAC-SHA256 of the exact body bytes, so the receiver can check who sent it.
A 2xx is delivered; 408, 429 and 5xx (and network errors) are worth retrying,
honouring ``Retry-After``; any other status is a refusal that retrying won't change.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
import orjson

from leadwatch import __version__
from leadwatch.notify.base import DeliveryError, Message, register
from leadwatch.settings import WebhookReceiver

SIGNATURE_HEADER = "X-Leadwatch-Signature"
RETRYABLE_STATUSES = frozenset({408, 425, 429})


def sign(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@register("webhook")
class WebhookNotifier:
    kind = "webhook"

    def __init__(self, config: WebhookReceiver, transport: httpx.BaseTransport | None = None):
        self.config = config
        self.secret = config.secret.get_secret_value().encode() if config.secret else None
        self.client = httpx.Client(timeout=config.timeout_seconds, transport=transport)

    def send(self, message: Message) -> None:
        body = orjson.dumps(message.to_dict())
        headers = {
            **self.config.headers,
            "Content-Type": "application/json",
            "User-Agent": f"leadwatch/{__version__}",
        }
        if self.secret is not None:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        post(self.client, self.config.url, body, headers, "webhook")


def post(client: httpx.Client, url: str, body: bytes, headers: dict[str, str], what: str) -> httpx.Response:
    """POST ``body``; the response when it is a 2xx, else DeliveryError saying whether a
    retry may help. Shared by every HTTP notifier (webhook, Slack, PagerDuty)."""
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.TransportError as exc:
        raise DeliveryError(f"{what} unreachable: {type(exc).__name__}: {exc}",
                            retryable=True) from None
    if response.is_success:
        return response
    status = response.status_code
    retryable = status in RETRYABLE_STATUSES or status >= 500
    raise DeliveryError(
        f"{what} answered {status}: {response.text[:200]}",
        retryable=retryable,
        retry_after=retry_after_seconds(response.headers.get("retry-after")) if retryable else None,
    )
