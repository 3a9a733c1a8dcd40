"""The demo site's access log, as nginx in front of it would write it: the page a
visitor asks for and what the browser fetches with it (the stylesheet, /lw.js, a
favicon that is not there), the snippet's POST /collect, the form post, the PDF.

Lines are nginx's ``combined`` format followed by ``$request_time
$upstream_response_time`` (a common ``log_format``; docs/logs.md), so the log
pipeline parses, enriches and threat-matches them like a real site's. The backfill
makes up statuses and times as nginx would have logged them (mostly 200, 304 for
what a returning browser has cached, 404 for missing icons, a rare 502); live
traffic logs the answers the app really gave (``with_answer``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from leadwatch.demo.content import PREFIX, RESOURCE
from leadwatch.demo.traffic import Person, lognormal
from leadwatch.logs.parse import Format

FORMAT: Format = "combined"  # the pipeline's format name for these lines
BAD_GATEWAY_SHARE = 0.003  # page requests nginx answers 502 (the app restarting, a deploy)
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Request:
    """One request as nginx logs it. ``at`` is UTC (naive or aware)."""

    at: datetime
    ip: str
    method: str
    target: str  # path and query, as the client sent them
    status: int
    bytes: int
    seconds: float  # $request_time
    user_agent: str
    referrer: str | None = None

    def with_answer(self, status: int, body_bytes: int, seconds: float) -> Request:
        """The same request with what the app really answered (live traffic)."""
        return replace(self, status=status, bytes=body_bytes, seconds=seconds)


def _quoted(value: str | None) -> str:
    # nginx escapes '"' and '\' (and control bytes) in logged strings as \xHH.
    if not value:
        return "-"
    return value.replace("\\", "\\x5C").replace('"', "\\x22")


def line(r: Request) -> str:
    """``r`` in nginx's combined format with ``$request_time $upstream_response_time``."""
    t = r.at
    stamp = f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year}:{t.hour:02d}:{t.minute:02d}:{t.second:02d} +0000"
    # nginx answers a 502 itself (no upstream answer) and a 429/403 of the app's after it.
    upstream = "-" if r.status == 502 else f"{max(0.0, r.seconds - 0.001):.3f}"
    return (f'{r.ip} - - [{stamp}] "{r.method} {_quoted(r.target)} HTTP/1.1" {r.status} {r.bytes} '
            f'"{_quoted(r.referrer)}" "{_quoted(r.user_agent)}" {r.seconds:.3f} {upstream}')


class AccessLog:
    """Lines waiting to go through the log pipeline (the simulator sends them in
    batches of ``logs.batch_lines``, as a shipper would: ``take`` hands over what is there)."""

    def __init__(self, batch_lines: int):
        self.batch_lines = batch_lines
        self._lines: list[str] = []

    def add(self, requests: list[Request]) -> None:
        self._lines.extend(line(r) for r in requests)

    @property
    def full(self) -> bool:
        return len(self._lines) >= self.batch_lines

    def take(self) -> list[str]:
        lines, self._lines = self._lines, []
        return lines


def _page_bytes(path: str) -> int:
    return 6400 + sum(map(ord, path)) % 2400  # the demo's pages are 6-9 KB of HTML


class SiteRequests:
    """What clients ask the demo site for, as nginx logs it: a visitor's browser (pages
    with their subresources, the snippet's posts, the form) or a script (attackers).
    ``base_url`` is where the demo is served (the Referer of subresources and pages)."""

    def __init__(self, rng: random.Random, base_url: str):
        self.rng = rng
        self.base_url = base_url.rstrip("/")

    def page(self, person: Person, at: datetime, target: str, referrer: str | None, *,
             first: bool, returning: bool, answer: tuple[int, int, float] | None = None) -> list[Request]:
        """The page (``target``: path and query under the site root) and its
        subresources. ``answer``: the app's real (status, body bytes, seconds); without
        it, what nginx would have logged (now and then a 502). A returning browser
        revalidates what it cached (304); a new one fetches it (200) and asks for icons
        the site does not have (404). Bots fetch the page only."""
        rng = self.rng
        if answer is None:
            status = 502 if rng.random() < BAD_GATEWAY_SHARE else 200
            seconds = 0.001 if status == 502 else lognormal(rng, 0.035, 0.5)
            answer = (status, _page_bytes(target) if status == 200 else 157, seconds)
        status, size, seconds = answer
        out = [Request(at, person.ip, "GET", target, status, size, round(seconds, 3), person.user_agent, referrer)]
        if person.device == "bot" or status != 200:
            return out
        url = self.base_url + target.partition("?")[0]
        cached = 304 if returning else 200
        assets: list[tuple[str, int, int]] = []
        if first:  # later pages use the cached stylesheet and snippet (max-age=3600)
            assets += [(f"{PREFIX}/static/site.css", cached, 4120), ("/lw.js", cached, 5310)]
        if target.startswith(f"{PREFIX}/contact"):
            assets.append((f"{PREFIX}/static/experiment.js", cached, 610))
        if first and not returning:
            assets.append(("/favicon.ico", 404, 92))
            if "iPhone" in person.user_agent or "iPad" in person.user_agent:
                assets.append(("/apple-touch-icon.png", 404, 92))
        for i, (path, code, size) in enumerate(assets, start=1):
            out.append(Request(at + timedelta(seconds=0.05 * i + seconds), person.ip, "GET", path, code,
                               size if code == 200 else 0, round(lognormal(rng, 0.002, 0.4), 3),
                               person.user_agent, url))
        return out

    def scripted(self, ip: str, user_agent: str, at: datetime, method: str, target: str,
                 status: int) -> Request:
        """A request a script made (an attacker's): no subresources, no Referer."""
        size = _page_bytes(target) if status == 200 else 120  # a page, or a JSON answer
        return Request(at, ip, method, target, status, size, round(lognormal(self.rng, 0.006, 0.6), 3), user_agent)

    def collect(self, person: Person, at: datetime, page_path: str) -> Request:
        """The snippet's POST /collect from a page."""
        return Request(at, person.ip, "POST", "/collect", 202, 0, round(lognormal(self.rng, 0.004, 0.5), 3),
                       person.user_agent, self.base_url + PREFIX + page_path)

    def download(self, person: Person, at: datetime, page_path: str) -> Request:
        return Request(at, person.ip, "GET", f"{PREFIX}/resources/{RESOURCE}", 200, 1480,
                       round(lognormal(self.rng, 0.003, 0.4), 3), person.user_agent,
                       self.base_url + PREFIX + page_path)

    def form_post(self, person: Person, at: datetime, status: int) -> list[Request]:
        """The contact form's POST /api/leads (a form post: 303 to the thank-you page,
        which the browser then loads) with the status the lead intake gave."""
        contact = self.base_url + PREFIX + "/contact"
        out = [Request(at, person.ip, "POST", "/api/leads", status, 0,
                       round(lognormal(self.rng, 0.045, 0.4), 3), person.user_agent, contact)]
        if status == 303:
            out.append(Request(at + timedelta(seconds=0.2), person.ip, "GET", f"{PREFIX}/thanks", 200,
                               _page_bytes("/thanks"), round(lognormal(self.rng, 0.03, 0.4), 3),
                               person.user_agent, contact))
        return out
