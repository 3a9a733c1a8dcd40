"""The demo's traffic simulator: a runtime Service that writes the last
``demo.backfill_days`` days at start-up, then keeps visitors coming in accelerated
time, all through leadwatch's real pipelines.

- Backfill: every visit of the past goes through the real /collect pipeline
  (``Collector.collect`` with the time it happened; rows reach the store in batches
  through the write buffer) and every lead through the real lead intake
  (``LeadIntake.submit`` with its time), followed by what sales did (contacted,
  qualified, won or lost). Bounded by ``BACKFILL_BUDGET_SECONDS``; a restart continues
  from the newest demo event instead of writing the days again.
- Live: visitors arrive ``demo.speed`` times as often as ``demo.visitors_per_day``
  says, and their minutes pass in seconds. Each is played in-process against the
  ASGI app (httpx's ASGITransport, with the visitor's own address): GET the pages,
  POST /collect, GET the contact page for its form token and POST /api/leads. Demo
  leads are real leads of the demo site.
- Access log: every request of both goes through the real log pipeline as the line
  nginx in front of the site would write (``access_log``), so the Logs page, the
  rate detectors and the log-borne threat matching see the site's traffic.
- Attackers (``attacks``): a few bursts a simulated day. Live, they are played
  against the ASGI app like visitors (the security middleware and the lead intake
  detect, block, flag, rate-limit and ban); in the backfill they are access-log
  lines, which the log pipeline threat-matches and the rate detectors count, shipped
  second by second and received at their simulated time (as a tailing shipper would
  have sent them then): detected then, and banned for ``security.ban_seconds`` from
  then, so only the attackers of the last ``ban_seconds`` start banned.
"""

from __future__ import annotations

import asyncio
import math
import random
import re
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import groupby
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

import httpx
import orjson
import structlog
from pydantic import ValidationError

from leadwatch.background import ThreadedService
from leadwatch.demo.access_log import FORMAT, AccessLog, Request, SiteRequests, line
from leadwatch.demo.attacks import ATTACKERS, Attack, AttackModel, backfill_statuses
from leadwatch.demo.content import PREFIX
from leadwatch.demo.traffic import (
    Fetch,
    Hit,
    Step,
    Submit,
    TrafficModel,
    Visit,
    hourly_weight,
    lognormal,
)
from leadwatch.demo.triage import ANALYST, triage
from leadwatch.leads.defence import issue_form_token
from leadwatch.leads.followup import record_followup
from leadwatch.leads.form import LeadIn, from_form
from leadwatch.leads.intake import Outcome, RestoreError, Submission
from leadwatch.leads.models import Lead
from leadwatch.store.buffer import BufferFull
from leadwatch.store.models import now as utc_now
from leadwatch.synthetic.catalog import own_url

if TYPE_CHECKING:
    from fastapi import FastAPI

    from leadwatch.runtime import Runtime

log = structlog.get_logger(__name__)

BACKFILL_BUDGET_SECONDS = 12.0  # the backfill stops writing older days past this
MAX_LIVE_VISITS = 200  # visits in flight at once
LOG_FLUSH_SECONDS = 1.0  # live access-log lines reach the pipeline (and the live tail) this often
TRIAGE_SECONDS = 10.0  # how often the demo's analyst looks at the open incidents (live)
BACKFILL_TRIAGE_EVERY = timedelta(hours=1)  # ... and in simulated time, in the backfill
_FORM_TOKEN = re.compile(r'name="form_token" value="([^"]+)"')
T = TypeVar("T")


class TrafficSimulator(ThreadedService):
    """The demo's visitors (a Service: ``start`` returns at once, ``close`` stops)."""

    name = "demo-traffic"
    join_timeout = 30

    def __init__(self, runtime: Runtime, app: FastAPI):
        super().__init__()
        self.runtime = runtime
        self.app = app
        self.settings = runtime.settings.demo
        self.site = next(s for s in runtime.settings.sites if s.id == self.settings.site_id)
        self.base_url = own_url(runtime.settings)
        self.rng = random.Random(self.settings.seed)
        self.model = TrafficModel(self.rng, self.base_url)
        self.attacks = AttackModel(self.rng, self.site.id, runtime.settings.leads.honeypot_field,
                                   runtime.settings.security)
        self.requests = SiteRequests(self.rng, self.base_url)
        self.access_log = AccessLog(runtime.settings.logs.batch_lines)
        self.backfilled = threading.Event()
        self.stats = {"visits": 0, "hits": 0, "leads": 0, "spam": 0, "live_visits": 0,
                      "attacks": 0, "log_lines": 0}

    def run(self) -> None:
        try:
            self.backfill()
        except Exception:
            log.exception("demo_backfill_failed")
        finally:
            self.backfilled.set()
        if (self.settings.visitors_per_day or self.settings.attacks_per_day) and not self._stop.is_set():
            try:
                asyncio.run(self._live())
            except Exception:
                log.exception("demo_traffic_failed")

    # ---- backfill ----

    def backfill(self, until: datetime | None = None) -> int:
        """Write the visits of the last ``backfill_days`` (from the newest demo event
        on, after a restart), oldest first, as ingestion would have seen them (the detectors
        and sessions need time order); a budget cut leaves the newest days out; how many."""
        until = until or utc_now()
        since = until - timedelta(days=self.settings.backfill_days)
        newest = self.runtime.events.query(
            "SELECT max(ts) AS ts FROM events WHERE site_id = :site", {"site": self.site.id}
        )[0]["ts"]
        if newest is not None:
            since = max(since, newest.replace(tzinfo=UTC))
        plans = self._timeline(since, until)
        started, done = time.monotonic(), 0
        # The analyst works as the history unfolds, so an attacker's later events open a
        # new incident rather than join one judged long before.
        next_triage = since + BACKFILL_TRIAGE_EVERY
        for at, plan in plans:
            if self._stop.is_set() or time.monotonic() - started > BACKFILL_BUDGET_SECONDS:
                log.warning("demo_backfill_cut", written=done, planned=len(plans))
                break
            if isinstance(plan, Attack):
                self._attack_past(plan, at, until)
            else:
                self._play_past(plan, at, until)
                done += 1
            if self.access_log.full:  # the visitors' lines, shipped as of the simulated time
                self._write_log(self.access_log.take(), received_at=at)
            if at >= next_triage:
                self._triage(at, backfill_until=until)
                next_triage = at + BACKFILL_TRIAGE_EVERY
        self._write_log(self.access_log.take(), received_at=until)
        self._triage(until, backfill_until=until)
        log.info("demo_backfill_done", written=done, since=since.isoformat(),
                 seconds=round(time.monotonic() - started, 2), **self.stats)
        return done

    def _timeline(self, since: datetime, until: datetime) -> list[tuple[datetime, Visit | Attack]]:
        """Visit start times hour by hour, shaped by the time of day and week; attacks
        at any hour (scripts keep no office hours)."""
        per_day = self.settings.visitors_per_day
        mean = sum(hourly_weight(h, d) for h in range(24) for d in range(7)) / (24 * 7)
        hour = since.replace(minute=0, second=0, microsecond=0)
        plans: list[tuple[datetime, Visit | Attack]] = []
        while hour < until:
            expected = per_day / 24 * hourly_weight(hour.hour, hour.weekday()) / mean
            draws: list[Callable[[], Visit | Attack]] = [self.model.visit] * self._count(expected)
            draws += [self.attacks.attack] * self._count(self.settings.attacks_per_day / 24)
            for draw in draws:
                at = hour + timedelta(seconds=self.rng.uniform(0, 3600))
                if since <= at < until:
                    plans.append((at, draw()))
            hour += timedelta(hours=1)
        plans.sort(key=lambda p: p[0])
        return plans

    def _count(self, expected: float) -> int:
        """``expected`` rounded up or down at random, keeping its mean."""
        return int(expected) + (self.rng.random() < expected - int(expected))

    def _play_past(self, visit: Visit, start: datetime, until: datetime) -> None:
        self.stats["visits"] += 1
        logs = self.settings.access_logs
        returning, previous = visit.person.token is not None, None
        for step in _one_batch_per_page(visit.steps):
            at = start + timedelta(seconds=step.at)
            if at >= until:
                return
            if isinstance(step, Fetch):
                if logs:
                    self.access_log.add(self._page_requests(visit, step, at, previous, returning))
                previous = step.path
            elif isinstance(step, Hit):
                self._collect_past(visit, step, at)
                if logs:
                    self.access_log.add(self._hit_requests(visit, step, at))
            elif isinstance(step, Submit):
                rendered = start + timedelta(seconds=step.rendered)
                outcome = self._submit_past(visit, step, at, rendered)
                if outcome is None:
                    continue
                if logs:  # the contact form is a plain HTML form post: 303 when taken
                    status = 303 if outcome.status == 201 else outcome.status
                    self.access_log.add(self.requests.form_post(visit.person, at, status))
                if outcome.rejected_reason is None:
                    self._follow_up_past(outcome.lead_id, step.quality, until)

    def _attack_past(self, attack: Attack, start: datetime, until: datetime) -> None:
        """An attack of the past exists as what nginx logged of it (the lead intake
        never saw its form posts: they went to a server of the past). Its lines reach
        the pipeline each second, received then, as a shipper tailing the log sends
        them: the detections are dated when they would have been made, not today."""
        self.stats["attacks"] += 1
        if not self.settings.access_logs:
            return
        statuses = backfill_statuses(attack, self.runtime.settings.security)
        requests = [
            self.requests.scripted(attack.ip, attack.user_agent, at, probe.method, probe.target, status)
            for probe, status in zip(attack.steps, statuses, strict=True)
            if (at := start + timedelta(seconds=probe.at)) < until
        ]
        for _, second in groupby(requests, key=lambda r: r.at.replace(microsecond=0)):
            shipped = list(second)
            self._write_log([line(r) for r in shipped], received_at=shipped[-1].at)

    def _page_target(self, visit: Visit, step: Fetch, previous: str | None) -> tuple[str, str | None]:
        """The page's path and query, and its Referer: the landing page keeps its query
        (UTM tags, click id) and the external referrer; later pages have the previous."""
        target = PREFIX + step.path
        landing = urlsplit(visit.landing_url)
        if previous is None and landing.path == target and landing.query:
            target += "?" + landing.query
        return target, visit.referrer if previous is None else self.base_url + PREFIX + previous

    def _page_requests(self, visit: Visit, step: Fetch, at: datetime, previous: str | None,
                       returning: bool, answer: tuple[int, int, float] | None = None) -> list[Request]:
        """A page and its subresources, as nginx logs them."""
        target, referrer = self._page_target(visit, step, previous)
        return self.requests.page(visit.person, at, target, referrer, first=previous is None,
                                  returning=returning, answer=answer)

    def _hit_requests(self, visit: Visit, hit: Hit, at: datetime) -> list[Request]:
        out = [self.requests.collect(visit.person, at, hit.path)]
        if any(e["type"] == "download" for e in hit.events):
            out.append(self.requests.download(visit.person, at, hit.path))
        return out

    def _write_log(self, lines: list[str], received_at: datetime | None = None) -> None:
        """Lines through the real log pipeline (parse, enrich, threats, rate detectors),
        received at ``received_at`` (the backfill's simulated time; live: now)."""
        if lines and self._drained(lambda: self.runtime.logs.pipeline.process(
                lines, site_id=self.site.id, fmt=FORMAT, received_at=received_at)) is not None:
            self.stats["log_lines"] += len(lines)

    def _drained(self, call: Callable[[], T]) -> T | None:
        """``call()``, again while the write buffer is full (the store is behind: let it
        drain); None when it stayed full or the simulator is stopping."""
        for attempt in range(50):
            try:
                return call()
            except BufferFull:
                if self._stop.is_set():
                    break
                time.sleep(0.1 * (attempt + 1))
        log.warning("demo_write_dropped", reason="write buffer full")
        return None

    def _collect_past(self, visit: Visit, hit: Hit, at: datetime) -> None:
        body = self._events(visit, hit)
        result = self._drained(lambda: self.runtime.collector.collect(
            self.site, body, ip=visit.person.ip, user_agent=visit.person.user_agent, received_at=at))
        if result is None:
            return
        self.stats["hits"] += 1
        if hit.pageview and result.token:
            visit.person.token = result.token

    def _submit_past(self, visit: Visit, step: Submit, at: datetime, rendered: datetime) -> Outcome | None:
        secret = self.runtime.secret_key
        token = issue_form_token(secret, self.site.id, rendered)
        fields = self._form(visit, step, token)
        honeypot = fields.pop(self.runtime.settings.leads.honeypot_field, None)
        try:
            lead = LeadIn.model_validate(from_form(list(fields.items())))
        except ValidationError:
            log.warning("demo_lead_invalid", exc_info=True)
            return None
        outcome = self.runtime.leads.submit(Submission(
            lead=lead, site_id=self.site.id, ip=visit.person.ip, idempotency_key=token,
            honeypot=honeypot or None, received_at=at,
        ))
        self.stats["spam" if outcome.rejected_reason is not None else "leads"] += 1
        return outcome

    def _follow_up_past(self, lead_id: int, quality: str, until: datetime, since: datetime | None = None) -> None:
        """What sales did with a lead of the past: called it within hours, then (days
        later) qualified or lost it, and won some of the qualified ones. ``since``: when
        sales heard of it (a restored lead), by default when it came."""
        rng = self.rng
        with self.runtime.records.session() as session:
            lead = session.get_one(Lead, lead_id)
            created = since or lead.created_at
            steps = [("contacted", created + timedelta(minutes=lognormal(rng, 50, 0.8)), None)]
            qualifies = rng.random() < {"premium": 0.75, "standard": 0.45}.get(quality, 0.1)
            decided = created + timedelta(days=rng.uniform(1, 4))
            steps.append(("qualified" if qualifies else "lost", decided, None))
            if qualifies:
                won = rng.random() < (0.5 if quality == "premium" else 0.3)
                value = round(rng.uniform(6000, 24000) if quality == "premium" else rng.uniform(1500, 6000), -2)
                steps.append(("won" if won else "lost", decided + timedelta(days=rng.uniform(3, 10)),
                              value if won else None))
            for status, at, value in steps:
                if at >= until:
                    break
                record_followup(session, lead, status, note="demo", value=value, at=at)

    # ---- live ----

    async def _live(self) -> None:
        per_second = self.settings.speed / 86_400  # real seconds of a simulated day
        visit_rate = self.settings.visitors_per_day * per_second
        attack_rate = self.settings.attacks_per_day * per_second
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not self._stop.is_set() and getattr(self.app.state, "runtime", None) is None:
                await asyncio.sleep(0.1)  # the app's lifespan has not finished starting
            now = time.monotonic()
            next_visit = now if visit_rate else math.inf
            next_attack = now + self.rng.expovariate(attack_rate) if attack_rate else math.inf
            next_flush = now + LOG_FLUSH_SECONDS
            live_since, next_triage = utc_now(), now + TRIAGE_SECONDS
            while not self._stop.is_set():
                now = time.monotonic()
                if now >= next_visit and len(tasks) < MAX_LIVE_VISITS:
                    self._spawn(tasks, self._play_live(self.model.visit()))
                    next_visit += self.rng.expovariate(visit_rate)
                if now >= next_attack and len(tasks) < MAX_LIVE_VISITS:
                    banned = [ip for ip, _ in ATTACKERS if self.runtime.guard.bans.banned(ip)]
                    self._spawn(tasks, self.play_attack_live(self.attacks.attack(banned=banned)))
                    next_attack += self.rng.expovariate(attack_rate)
                if now >= next_flush:
                    await self.flush_live_log()
                    next_flush = time.monotonic() + LOG_FLUSH_SECONDS
                if now >= next_triage:
                    await asyncio.to_thread(self._triage, utc_now(), live_since)
                    next_triage = time.monotonic() + TRIAGE_SECONDS
                await asyncio.sleep(min(0.2, max(0.0, min(next_visit, next_attack, next_flush) - time.monotonic())))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.flush_live_log()

    def _triage(self, now: datetime, live_since: datetime | None = None,
                backfill_until: datetime | None = None) -> None:
        """The demo analyst's verdicts due by ``now`` (a false positive lifts its ban). A
        lead the analyst restores in the backfill is then followed up by sales too."""
        self.runtime.security.incidents.process()  # group what the backfill or flush just recorded

        def restore(lead_id: int, at: datetime) -> None:
            try:
                self.runtime.leads.restore(lead_id, ANALYST, at)
            except RestoreError:
                return  # the prospect got through on a second try: a lead already
            self.stats["spam"] -= 1  # counted as refused when it came: a lead after all
            self.stats["leads"] += 1
            if backfill_until is not None:
                self._follow_up_past(lead_id, "standard", backfill_until, since=at)

        if triage(self.runtime.records, self.site.id, now, self.settings.seed, live_since, self.settings.speed,
                  restore=restore):
            self.runtime.guard.bans.reload()

    @staticmethod
    def _spawn(tasks: set[asyncio.Task[None]], play: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(play)
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def flush_live_log(self) -> None:
        """Send the live access-log lines gathered so far through the log pipeline."""
        lines = self.access_log.take()
        if lines:
            await asyncio.to_thread(self._write_log, lines)

    async def play_attack_live(self, attack: Attack) -> None:
        """Play ``attack`` against the app from the attacker's address, in demo time
        (a flood as fast as the app answers); log what the app answered."""
        self.stats["attacks"] += 1
        transport = httpx.ASGITransport(app=self.app, client=(attack.ip, self.rng.randint(1024, 65535)))
        async with httpx.AsyncClient(transport=transport, base_url=self.base_url, timeout=30,
                                     headers={"User-Agent": attack.user_agent}) as client:
            elapsed = 0.0
            for probe in attack.steps:
                wait = (probe.at - elapsed) / self.settings.speed
                if wait > 0.005 and await self._sleep(wait):
                    return
                elapsed = probe.at
                at, started = utc_now(), time.perf_counter()
                try:
                    if probe.form is not None:
                        answer = await client.post(probe.target, data=probe.form,
                                                   headers={"Accept": "application/json"})
                    else:
                        answer = await client.get(probe.target)
                except httpx.HTTPError:
                    log.warning("demo_request_failed", exc_info=True)
                    return
                if self.settings.access_logs:
                    self.access_log.add([self.requests.scripted(
                        attack.ip, attack.user_agent, at, probe.method, probe.target, answer.status_code,
                    ).with_answer(answer.status_code, len(answer.content), time.perf_counter() - started)])

    async def _play_live(self, visit: Visit) -> None:
        speed = self.settings.speed
        min_fill = self.runtime.settings.leads.min_submit_seconds + 0.5
        transport = httpx.ASGITransport(app=self.app, client=(visit.person.ip, self.rng.randint(1024, 65535)))
        headers = {"User-Agent": visit.person.user_agent, "Accept-Language": "en-GB,en;q=0.9"}
        self.stats["live_visits"] += 1
        async with httpx.AsyncClient(transport=transport, base_url=self.base_url, headers=headers,
                                     timeout=30) as client:
            elapsed, form_token, rendered = 0.0, None, 0.0
            logs, returning, previous = self.settings.access_logs, visit.person.token is not None, None
            for step in sorted(visit.steps, key=lambda s: s.at):
                wait = (step.at - elapsed) / speed
                if isinstance(step, Submit) and step.quality != "spam":
                    wait = max(wait, min_fill - (time.monotonic() - rendered))
                if wait > 0 and await self._sleep(wait):
                    return
                elapsed = step.at
                at, started = utc_now(), time.perf_counter()
                try:
                    if isinstance(step, Fetch):
                        page = await client.get(self._page_target(visit, step, previous)[0])
                        if logs:
                            answer = (page.status_code, len(page.content), time.perf_counter() - started)
                            self.access_log.add(self._page_requests(visit, step, at, previous, returning, answer))
                        previous = step.path
                        if step.path == "/contact" and (m := _FORM_TOKEN.search(page.text)):
                            form_token, rendered = m.group(1), time.monotonic()
                    elif isinstance(step, Hit):
                        body = orjson.dumps(self._events(visit, step))
                        sent = await client.post("/collect", params={"site": self.site.id}, content=body,
                                                 headers={"Content-Type": "text/plain"})
                        if logs:
                            collect, *more = self._hit_requests(visit, step, at)
                            self.access_log.add([collect.with_answer(
                                sent.status_code, len(sent.content), time.perf_counter() - started), *more])
                        token = sent.json().get("token") if sent.status_code == 202 else None
                        if step.pageview and token:
                            visit.person.token = token
                    elif isinstance(step, Submit):
                        await self._submit_live(client, visit, step, form_token)
                except httpx.HTTPError:
                    log.warning("demo_request_failed", exc_info=True)
                    return

    async def _submit_live(self, client: httpx.AsyncClient, visit: Visit, step: Submit,
                           form_token: str | None) -> None:
        at, started = utc_now(), time.perf_counter()
        answer = await client.post("/api/leads", data=self._form(visit, step, form_token),
                                   headers={"Accept": "application/json"})
        if self.settings.access_logs:
            self.access_log.add([r.with_answer(answer.status_code, len(answer.content), time.perf_counter() - started)
                                 for r in self.requests.form_post(visit.person, at, answer.status_code)])
        if answer.status_code != 201:
            return
        if step.quality == "spam":
            self.stats["spam"] += 1
            return
        self.stats["leads"] += 1
        # Sales calls back within the hour (demo time).
        delay = lognormal(self.rng, 45 * 60, 0.6) / self.settings.speed
        if not await self._sleep(delay):
            await asyncio.to_thread(self._contacted, int(answer.json()["id"]))

    def _contacted(self, lead_id: int) -> None:
        with self.runtime.records.session() as session:
            lead = session.get(Lead, lead_id)
            if lead is not None and lead.rejected_reason is None and lead.status == "new":
                record_followup(session, lead, "contacted", note="demo")

    async def _sleep(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the simulator is stopping."""
        deadline = time.monotonic() + seconds
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.sleep(min(left, 0.25))
        return True

    # ---- what the browser sends ----

    def _events(self, visit: Visit, hit: Hit) -> list[dict[str, Any]]:
        url = f"{self.base_url}{PREFIX}{hit.path}"
        events = []
        for event in hit.events:
            event = {"url": url, **event}
            if event["type"] == "pageview" and visit.person.token:
                event["token"] = visit.person.token
            events.append(event)
        return events

    def _form(self, visit: Visit, step: Submit, form_token: str | None) -> dict[str, str]:
        fields = {"site_id": self.site.id, **step.fields,
                  "consent_policy_version": "2025-01",
                  self.runtime.settings.leads.honeypot_field: step.honeypot or ""}
        if form_token:
            fields["form_token"] = form_token
        if visit.person.token and step.quality != "spam":
            fields["attribution_token"] = visit.person.token
        return fields


def _one_batch_per_page(steps: list[Step]) -> list[Step]:
    """The steps in time order, each page's later events (vitals, engagement, clicks)
    sent with its page view: half the /collect batches, for a quicker backfill."""
    out: list[Step] = []
    page_at: dict[str, int] = {}
    for step in sorted(steps, key=lambda s: s.at):
        if isinstance(step, Hit) and not step.pageview and step.path in page_at:
            i = page_at.pop(step.path)
            first = out[i]
            assert isinstance(first, Hit)
            out[i] = replace(first, events=first.events + step.events)
            continue
        if isinstance(step, Hit) and step.pageview:
            page_at[step.path] = len(out)
        out.append(step)
    return out
