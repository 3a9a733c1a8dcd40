"""Webhook notifier against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from leadwatch.notify.base import DeliveryError, Message
from leadwatch.notify.webhook import WebhookNotifier, retry_after_seconds
from leadwatch.settings import WebhookReceiver


class Receiver(BaseHTTPRequestHandler):
    answers: list[tuple[int, dict[str, str]]] = []
    received: list[tuple[dict[str, str], bytes]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        status, headers = type(self).answers.pop(0) if type(self).answers else (204, {})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Receiver.answers, Receiver.received = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/hook"
    httpd.shutdown()
    httpd.server_close()


MESSAGE = Message("Premium lead: Ann", "New premium lead", severity="critical", dedup_key="lead-1",
                  facts={"Score": "93"})


def test_posts_the_message_as_signed_json(server: str) -> None:
    notifier = WebhookNotifier(WebhookReceiver(kind="webhook", url=server, secret="s3cret",
                                               headers={"X-Api-Key": "k"}))
    notifier.send(MESSAGE)
    headers, body = Receiver.received[0]
    assert json.loads(body) == MESSAGE.to_dict()
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Leadwatch-Signature"] == expected
    assert headers["X-Api-Key"] == "k" and headers["Content-Type"] == "application/json"


def test_unsigned_without_a_secret(server: str) -> None:
    WebhookNotifier(WebhookReceiver(kind="webhook", url=server)).send(MESSAGE)
    assert "X-Leadwatch-Signature" not in Receiver.received[0][0]


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (503, {"Retry-After": "30"}, True, 30.0),
        (429, {}, True, None),
        (500, {}, True, None),
        (400, {"Retry-After": "30"}, False, None),
        (404, {}, False, None),
    ],
)
def test_status_decides_whether_to_retry(
    server: str, status: int, headers: dict[str, str], retryable: bool, retry_after: float | None
) -> None:
    Receiver.answers = [(status, headers)]
    with pytest.raises(DeliveryError) as caught:
        WebhookNotifier(WebhookReceiver(kind="webhook", url=server)).send(MESSAGE)
    assert (caught.value.retryable, caught.value.retry_after) == (retryable, retry_after)


def test_an_unreachable_receiver_is_retryable() -> None:
    notifier = WebhookNotifier(WebhookReceiver(kind="webhook", url="http://127.0.0.1:9/", timeout_seconds=5))
    with pytest.raises(DeliveryError) as caught:
        notifier.send(MESSAGE)
    assert caught.value.retryable


def test_retry_after_accepts_seconds_and_dates() -> None:
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT") == 0  # in the past
    assert retry_after_seconds("soon") is None and retry_after_seconds(None) is None
