"""A local HTTP receiver standing in for PagerDuty's and Slack's servers (the one
choke point the tests may imitate, since those servers cannot run here), and also
listening for generic webhooks and Alertmanager's own notifications.

It records every request in arrival order with the status it answered. With
``fail_every=2`` it answers 503 to every other request (a receiver in trouble);
a request answered 2xx is a delivery, so ``delivered()`` counts what arrived.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

# What PagerDuty's Events API and Slack answer when they take a message.
ACCEPTED = {"/pagerduty": 202}


@dataclass(frozen=True)
class Request:
    path: str
    body: dict[str, Any]
    status: int
    at: float  # time.monotonic() on arrival

    @property
    def delivered(self) -> bool:
        return 200 <= self.status < 300


class LocalReceiver:
    def __init__(self, fail_every: int | None = None) -> None:
        self.requests: list[Request] = []
        self.fail_every = fail_every
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = orjson.loads(self.rfile.read(int(self.headers["Content-Length"])))
                status = receiver._answer(self.path, body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _answer(self, path: str, body: dict[str, Any]) -> int:
        with self._lock:
            failing = self.fail_every is not None and len(self.requests) % self.fail_every == 0
            status = 503 if failing else ACCEPTED.get(path, 200)
            self.requests.append(Request(path, body, status, time.monotonic()))
            return status

    def delivered(self, path: str | None = None) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.delivered and (path is None or r.path == path)]

    def refused(self) -> int:
        with self._lock:
            return sum(1 for r in self.requests if not r.delivered)

    def count(self, identity: Callable[[Request], Hashable]) -> Counter[Hashable]:
        """Deliveries per message identity (e.g. PagerDuty's dedup_key and action)."""
        return Counter(identity(r) for r in self.delivered())

    def wait_until(self, condition: Callable[[list[Request]], bool], what: str, timeout: float = 90) -> list[Request]:
        """Poll until ``condition(deliveries)`` holds; fail saying ``what`` was awaited."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            delivered = self.delivered()
            if condition(delivered):
                return delivered
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; received: "
                             f"{[(r.path, r.status, r.body) for r in self.requests][-20:]}")

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def pagerduty_identity(request: Request) -> Hashable:
    """A PagerDuty event is one message per (service, incident, action)."""
    body = request.body
    return (request.path, body.get("routing_key"), body.get("dedup_key"), body.get("event_action"))
