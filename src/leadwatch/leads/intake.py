"""Lead intake: a submission passes named, timed steps and ends as one stored row.

    replay ─ threats ─ spam ─ attribution ─ engagement ─ score ─ store (limits, duplicate,
    route to sales, automated response)

Nothing is thrown away: a submission refused for a reason (``REJECT_REASONS``) is
stored with it and left out of KPIs; only an invalid body (422) or an oversized one
(413) is not stored, and the client is told. The answer is given after the commit,
so a 201 means the lead is durable; an ``Idempotency-Key`` (or the form token)
makes a retry return the first answer instead of storing a second lead.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CollectorRegistry
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from leadwatch.leads import defence
from leadwatch.leads.autoreply import queue_autoreply
from leadwatch.leads.engagement import EngagementReader
from leadwatch.leads.form import LeadIn
from leadwatch.leads.hours import business_calendars, follow_up_due
from leadwatch.leads.metrics import LeadMetrics
from leadwatch.leads.models import Lead, LeadActivity
from leadwatch.leads.routing import route
from leadwatch.leads.scoring import Engagement, ScoreInput, score_lead
from leadwatch.marketing.channels import classify_channel
from leadwatch.marketing.touch import Touches, read_touches
from leadwatch.notify.outbox import Outbox
from leadwatch.security import Field, Threat, inspect
from leadwatch.security.events import Action, SecurityEvent, SecurityLog
from leadwatch.settings import Settings
from leadwatch.store.buffer import BufferFull
from leadwatch.store.models import now
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import utc_naive

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

log = structlog.get_logger(__name__)

REJECT_REASONS = (
    "spam_honeypot", "spam_too_fast", "spam_bad_token", "spam_no_token", "rate_limited",
    "duplicate", "blocked_sqli", "synthetic",
)
LEAD_PATH = "/api/leads"
# What a person may judge genuine and restore as a lead: the spam checks' and the
# security check's verdicts. A duplicate, a rate-limited retry or a synthetic
# journey's lead is what it says.
RESTORABLE = ("blocked_sqli", "spam_honeypot", "spam_too_fast", "spam_bad_token", "spam_no_token")


class RestoreError(ValueError):
    """Why a submission cannot be restored (its state refuses it: a 409)."""


@dataclass(frozen=True)
class Submission:
    lead: LeadIn
    site_id: str
    ip: str | None = None
    idempotency_key: str | None = None
    honeypot: str | None = None  # the honeypot field's value; people leave it empty
    received_at: datetime | None = None
    # The id of a verified synthetic-journey marker (leadwatch.synthetic.marker): the
    # lead is stored as rejected "synthetic" (out of every KPI, uncounted, not routed)
    # and deleted once the run is recorded (delete_synthetic).
    synthetic: str | None = None


@dataclass(frozen=True)
class Outcome:
    lead_id: int
    score: int
    tier: str
    follow_up_due: datetime | None
    rejected_reason: str | None = None
    retry_after: int | None = None
    blocked_field: str | None = None
    replayed: bool = False

    @property
    def status(self) -> int:
        if self.rejected_reason == "blocked_sqli":
            return 403
        return 429 if self.rejected_reason == "rate_limited" else 201

    @classmethod
    def of(cls, lead: Lead, replayed: bool = False) -> Outcome:
        blocked = next((f["field"] for f in lead.flags or () if f["threat"] == "sqli"), None)
        return cls(lead.id, lead.score, lead.tier, lead.follow_up_due, lead.rejected_reason,
                   blocked_field=blocked, replayed=replayed)


class LeadIntake:
    def __init__(
        self,
        settings: Settings,
        records: RecordStore,
        outbox: Outbox,
        security_log: SecurityLog,
        registry: CollectorRegistry,
        secret_key: Callable[[], bytes],
        engagement: EngagementReader,
    ):
        self.settings = settings
        self.engagement = engagement
        self.leads = settings.leads
        self.records = records
        self.outbox = outbox
        self.security_log = security_log
        self.metrics = LeadMetrics(registry, overdue=self._overdue_or_nan)
        self.secret_key = secret_key  # read at use: the runtime sets it when it starts
        self.sites = {s.id: s for s in settings.sites}
        self.calendars = business_calendars(settings)

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> LeadIntake:
        return cls(runtime.settings, runtime.records, runtime.outbox, runtime.security_log,
                   runtime.metrics.registry, lambda: runtime.secret_key,
                   EngagementReader(runtime.collector.sessions, runtime.events))

    @contextmanager
    def _step(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.metrics.step_duration.labels(name).observe(time.perf_counter() - started)

    def submit(self, sub: Submission) -> Outcome:
        at = sub.received_at or now()
        lead_in, secret = sub.lead, self.secret_key()
        with self._step("replay"):
            if sub.idempotency_key and (done := self._replay(sub)) is not None:
                return done
        with self._step("threats"):
            flags, events = self._threats(sub, at)
        with self._step("spam"):
            sqli = any(f["threat"] == Threat.SQLI for f in flags)
            reason = "synthetic" if sub.synthetic else "blocked_sqli" if sqli else self._spam(sub, secret, at)
        with self._step("attribution"):
            touches = read_touches(secret, lead_in.attribution_token) if lead_in.attribution_token else None
            channel = touches.first.channel if touches else classify_channel(
                referrer=lead_in.referrer, utm_source=lead_in.utm_source,
                utm_medium=lead_in.utm_medium, utm_campaign=lead_in.utm_campaign,
                click_ids=tuple(lead_in.click_ids()), site_domain=self.sites[sub.site_id].domain,
            )
        with self._step("engagement"):
            # Refused submissions are not worth a read of the event store.
            engagement = self._engagement(sub.site_id, touches, at) if reason is None else None
        with self._step("score"):
            site = self.leads.site(sub.site_id)
            score = score_lead(ScoreInput(
                channel=channel, phone=bool(lead_in.phone), company=bool(lead_in.company),
                budget=bool(lead_in.budget), company_size=lead_in.company_size,
                industry=lead_in.industry, country=lead_in.country, engagement=engagement,
            ), site, self.leads.scoring)
            due = follow_up_due(score.tier, at, self.calendars[sub.site_id],
                                self.leads.premium_response_minutes)
        lead = Lead(
            site_id=sub.site_id, created_at=at, status="new", rejected_reason=reason,
            **lead_in.model_dump(include=STORED_FIELDS),
            consent=lead_in.consent.model_dump() if lead_in.consent else None,
            click_ids=lead_in.click_ids() or None, experiments=lead_in.experiments,
            touches=touches.to_dict() if touches else None, channel=channel,
            score=score.total, tier=score.tier, score_breakdown=score.breakdown(self.leads.scoring.weights),
            model_version=score.model_version, follow_up_due=due, flags=flags or None,
            idempotency_key=sub.idempotency_key, client_key=defence.client_key(secret, sub.ip),
        )
        with self._step("store"):
            try:
                outcome = self._store(sub, lead, at)
            except IntegrityError:
                # The same idempotency key committed meanwhile (another replica, or a
                # key reused with another email): answer as the first time.
                done = self._replay(sub)
                if done is None:
                    raise
                return done
        self._count(lead, outcome)
        if events:
            self._record_security(events)
        return outcome

    def _replay(self, sub: Submission) -> Outcome | None:
        with self.records.session() as session:
            return _replayed(session, sub)

    def _threats(self, sub: Submission, at: datetime) -> tuple[list[dict[str, str]], list[SecurityEvent]]:
        """The submission's findings, as flags and as security events seen and detected
        when it was received (``at``: a replayed submission's past time)."""
        flags: list[dict[str, str]] = []
        events: list[SecurityEvent] = []
        seen = utc_naive(at)
        for name, value in sub.lead.text_fields().items():
            for finding in inspect(value, Field.FORM):
                flags.append({"field": name, "threat": str(finding.threat)})
                # SQL injection is refused (403); anything else is kept as text, flagged.
                action = Action.BLOCKED if finding.threat == Threat.SQLI else Action.FLAGGED
                events.append(SecurityEvent(
                    site_id=sub.site_id, threat=str(finding.threat), action=action,
                    source="leads", ip=sub.ip, field=f"form.{name}", rule=finding.rule,
                    evidence=finding.evidence, sample=value, path=LEAD_PATH,
                    ts=seen, detected_at=seen,
                ))
        return flags, events

    def _engagement(self, site_id: str, touches: Touches | None, at: datetime) -> Engagement | None:
        if touches is None or not touches.sessions:
            self.metrics.engagement.labels("unknown").inc()
            return None
        try:
            found = self.engagement.read(site_id, touches.sessions, at)
        except Exception:
            # The lead matters more than one factor of its score: neutral, and say so.
            log.warning("lead_engagement_unread", exc_info=True)
            self.metrics.engagement.labels("failed").inc()
            return None
        self.metrics.engagement.labels("unknown" if found is None else "found").inc()
        return found

    def _spam(self, sub: Submission, secret: bytes, at: datetime) -> str | None:
        if sub.honeypot:
            return "spam_honeypot"
        token = sub.lead.form_token
        if token is None:
            return "spam_no_token" if self.leads.require_form_token else None
        rendered = defence.form_token_time(secret, sub.site_id, token)
        age = at.timestamp() - rendered if rendered is not None else None
        if age is None or age > self.leads.form_token_max_age_seconds or age < -60:
            return "spam_bad_token"
        return "spam_too_fast" if age < self.leads.min_submit_seconds else None

    def _store(self, sub: Submission, lead: Lead, at: datetime) -> Outcome:
        retry_after = None
        with defence.serialised_session(self.records, sub.site_id, lead.email) as session:
            if sub.idempotency_key and (done := _replayed(session, sub)) is not None:
                return done
            if lead.rejected_reason is None:
                limited = defence.rate_limited(session, self.leads, sub.site_id, lead.email,
                                               lead.client_key, at)
                if limited is not None:
                    # Not under the key: a retry after Retry-After must be taken afresh.
                    lead.rejected_reason, lead.idempotency_key = "rate_limited", None
                    retry_after = limited.retry_after
            if lead.rejected_reason is None:
                first = defence.first_of_duplicate(session, self.leads, sub.site_id, lead.email, at)
                if first is not None:
                    lead.rejected_reason, lead.duplicate_of = "duplicate", first
            session.add(lead)
            session.flush()
            site = self.leads.site(sub.site_id)
            if lead.rejected_reason is None and lead.tier in self.leads.notify_tiers:
                route(session, self.outbox, lead, site.sales_receivers,
                      self.sites[sub.site_id].name, self.settings.server.public_url)
            queue_autoreply(session, self.outbox, lead, site.autoreply, self.sites[sub.site_id])
        return replace(Outcome.of(lead), retry_after=retry_after)

    def restore(self, lead_id: int, actor: str, at: datetime | None = None) -> Lead | None:
        """Restore a held-back submission a person judged genuine (a prospect quoting
        "*", a visitor whose autofill filled the honeypot): from now it is a lead,
        counted in the KPIs on the day it came, due for follow-up from now (sales
        hears of it now) and routed to sales like a new one. None: no such lead;
        RestoreError: not held back for a reason a person may overrule, or the same
        person is a lead already (within the duplicate window either side). ``at``:
        when (default now; the demo's analyst restores in its history)."""
        with self.records.session() as session:
            found = session.get(Lead, lead_id)
            if found is None:
                return None
            site_id, email = found.site_id, found.email
        at = at or now()
        with defence.serialised_session(self.records, site_id, email) as session:
            lead = session.get(Lead, lead_id, with_for_update=True)
            if lead is None:
                return None
            reason = lead.rejected_reason
            if reason not in RESTORABLE:
                raise RestoreError("it is a lead already" if reason is None
                                   else f"held back as {reason}: only spam and blocked submissions are restored")
            window = timedelta(hours=self.leads.duplicate_window_hours)
            twin = session.scalar(select(Lead.id).where(
                Lead.site_id == site_id, Lead.email == email, Lead.rejected_reason.is_(None),
                Lead.created_at > lead.created_at - window, Lead.created_at < lead.created_at + window,
            ).order_by(Lead.id).limit(1))
            if twin is not None:
                raise RestoreError(f"{email} is lead {twin} already")
            lead.rejected_reason = None
            lead.follow_up_due = follow_up_due(lead.tier, at, self.calendars[site_id],
                                               self.leads.premium_response_minutes)
            session.add(LeadActivity(lead_id=lead.id, at=at, status="restored",
                                     note=f"held back as {reason}; restored by {actor}"))
            if lead.tier in self.leads.notify_tiers:
                route(session, self.outbox, lead, self.leads.site(site_id).sales_receivers,
                      self.sites[site_id].name, self.settings.server.public_url)
            session.flush()
            session.expunge(lead)
        log.info("lead_restored", lead_id=lead_id, reason=reason, actor=actor)
        self.metrics.restored.labels(reason).inc()
        return lead

    def _count(self, lead: Lead, outcome: Outcome) -> None:
        if outcome.rejected_reason == "synthetic":
            return  # a synthetic journey's lead is no business number
        if outcome.rejected_reason is None:
            self.metrics.submitted.labels(lead.channel or "Unassigned", lead.tier).inc()
            self.metrics.score.observe(lead.score)
        else:
            self.metrics.rejected.labels(outcome.rejected_reason).inc()

    def delete_synthetic(self) -> int:
        """Delete the leads synthetic journeys submitted; how many there were."""
        with self.records.session() as session:
            found = session.scalars(select(Lead).where(Lead.rejected_reason == "synthetic")).all()
            for lead in found:
                session.delete(lead)
            return len(found)

    def _record_security(self, events: list[SecurityEvent]) -> None:
        try:
            self.security_log.record(*events)
        except BufferFull:
            log.warning("security_events_not_recorded", reason="event buffer full", count=len(events))

    def _overdue_or_nan(self) -> float:
        # Called at scrape time: a store that is down (or not migrated yet) is "unknown".
        try:
            return float(self.overdue())
        except Exception:
            return float("nan")

    def overdue(self) -> int:
        """Real leads past their follow-up due time that nobody has followed up."""
        with self.records.session() as session:
            return int(session.scalar(
                select(func.count()).select_from(Lead).where(and_(
                    Lead.rejected_reason.is_(None), Lead.status == "new",
                    Lead.follow_up_due.is_not(None), Lead.follow_up_due < now(),
                ))
            ) or 0)


def _replayed(session: Session, sub: Submission) -> Outcome | None:
    """The first answer to the submission's idempotency key, if a lead has it."""
    found = session.scalar(select(Lead).where(
        Lead.site_id == sub.site_id, Lead.idempotency_key == sub.idempotency_key))
    return Outcome.of(found, replayed=True) if found is not None else None


STORED_FIELDS = {
    "name", "email", "phone", "company", "company_size", "industry", "country", "budget",
    "message", "page_url", "referrer", "utm_source", "utm_medium", "utm_campaign", "utm_term",
    "utm_content",
}
