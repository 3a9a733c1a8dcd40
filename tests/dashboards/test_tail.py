"""The Logs page's live tail: lines shipped after the tail starts arrive through its
poll, lines the search does not match never do, the cursor moves on (no line twice),
and without a session there is no tail."""

from __future__ import annotations

import html as htmllib
import re
import time
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.settings import Settings
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN
from tests.dashboards.conftest import as_tester

POLLER = re.compile(r'<div id="tail-poll"[^>]*hx-get="([^"]+)"')


def poller(html: str) -> str:
    return htmllib.unescape(POLLER.search(html).group(1))  # type: ignore[union-attr]


def ship(client: TestClient, at: datetime, *requests: tuple[str, int]) -> None:
    stamp = at.strftime("%d/%b/%Y:%H:%M:%S +0000")
    lines = [f'192.0.2.7 - - [{stamp}] "GET {path} HTTP/1.1" {status} 128 "-" "curl/8.5"' for path, status in requests]
    shipped = client.post("/api/v1/logs", headers={**ADMIN, "Content-Type": "text/plain"},
                          params={"format": "combined"}, content="\n".join(lines).encode())
    assert shipped.status_code == 202, shipped.text
    client.app.state.runtime.logs.buffer.flush()  # type: ignore[attr-defined]


def poll_until(client: TestClient, url: str, wanted: str, seconds: float = 30) -> tuple[str, str]:
    """Poll as the page does (following the cursor) until ``wanted`` shows up; returns
    every line fragment seen and the last poll URL."""
    seen, deadline = "", time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = client.get(url, headers={"HX-Request": "true"})
        assert answer.status_code == 200, answer.text
        seen += POLLER.sub("", answer.text)
        url = poller(answer.text)
        if wanted in seen:
            return seen, url
        time.sleep(0.2)
    raise AssertionError(f"{wanted} never arrived; saw {seen!r}")


def test_a_matching_line_shipped_after_the_tail_starts_arrives_once(settings_for: Any, backend: str) -> None:
    settings: Settings = settings_for(backend, security={"enabled": False}, dashboards={"tail_delay_seconds": 0})
    with TestClient(as_tester(create_app(settings))) as client:
        before = utcnow() - timedelta(minutes=1)
        ship(client, before, ("/old-failure", 500))
        page = client.get("/ui/logs/tail", params={"q": "status>=500"})
        assert page.status_code == 200 and 'id="tail-toggle"' in page.text
        url = poller(page.text)
        assert "q=status%3E%3D500" in url
        assert "hx-get" not in page.text.split('<main id="page"')[1].split(">")[0]  # no page refresh
        assert 'name="range"' not in page.text and 'name="refresh"' not in page.text  # live: no range
        assert "Search instead" in page.text and "· live</small>" in page.text
        cursor = datetime.fromisoformat(re.search(r"after=([^&\"]+)", url).group(1).replace("%3A", ":"))  # type: ignore[union-attr]

        # Whole seconds (as access logs stamp them) after the cursor.
        after = cursor.replace(microsecond=0) + timedelta(seconds=2)
        ship(client, after, ("/contact-failure", 502), ("/contact", 200))
        seen, url = poll_until(client, url, "/contact-failure")
        assert seen.count("<details>") == 1  # one record: the matching line, once
        assert "<code>/contact</code>" not in seen
        assert "/old-failure" not in seen  # the tail starts at its start

        again = client.get(url, headers={"HX-Request": "true"})
        assert "<details>" not in again.text  # the cursor moved past it


def test_the_tail_answers_bad_input_with_4xx(ui: TestClient) -> None:
    assert ui.get("/ui/logs/tail", params={"q": "status>=abc"}).status_code == 422
    assert ui.get("/ui/logs/tail", params={"dataset": "nope"}).status_code == 422
    lines = "/ui/logs/tail/lines"
    assert ui.get(lines, params={"site": "default"}).status_code == 422  # no cursor
    assert ui.get(lines, params={"site": "default", "after": "yesterday"}).status_code == 422
    assert ui.get(lines, params={"site": "nope", "after": "2026-11-26T10:00:00"}).status_code == 404


def test_without_a_session_there_is_no_tail(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        page = client.get("/ui/logs/tail?q=status%3E%3D500", follow_redirects=False)
        assert page.status_code == 303 and page.headers["location"].startswith("/ui/login?next=%2Fui%2Flogs%2Ftail")
        lines = client.get("/ui/logs/tail/lines", params={"site": "default", "after": "2026-11-26T10:00:00"},
                           headers={"HX-Request": "true", "HX-Current-URL": "http://testserver/ui/logs/tail?q=x"},
                           follow_redirects=False)
        assert lines.status_code == 401
        assert lines.headers["HX-Redirect"] == "/ui/login?next=%2Fui%2Flogs%2Ftail%3Fq%3Dx"
        assert "<li" not in lines.text
