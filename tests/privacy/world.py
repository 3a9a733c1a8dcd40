"""A record store with two people's leads, their follow-ups and the messages about
them (a sales webhook and the automated reply), built through the real intake."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from leadwatch.leads.followup import record_followup
from leadwatch.leads.form import LeadIn
from leadwatch.leads.intake import Submission
from leadwatch.leads.models import Lead, LeadActivity
from leadwatch.notify.models import SENT, OutboxMessage
from leadwatch.privacy.models import PrivacyRequest
from leadwatch.runtime import Runtime
from leadwatch.settings import Settings

NOW = datetime.now(UTC).replace(microsecond=0)
TIERS = ["premium", "high", "standard", "low", "poor"]
# Nobody listens on port 9 (discard): nothing is delivered, messages stay in the outbox.
RECEIVERS = {
    "sales": {"kind": "webhook", "url": "http://127.0.0.1:9/sales"},
    "mail": {"kind": "email", "host": "127.0.0.1", "port": 9, "security": "none",
             "sender": "leadwatch@rebootmedia.example", "to": ["sales@rebootmedia.example"]},
}
ANN = {"name": "Ann Example", "email": "Ann@Example.com", "phone": "+44 20 7946 0000",
       "company": "Acme Annworks", "budget": "20k", "message": "Please call Ann about the Annworks relaunch",
       "page_url": "https://rebootmedia.example/contact?email=ann%40example.com",
       "referrer": "https://webmail.example/inbox/ann-private-thread", "gclid": "ann-click-123",
       "utm_source": "google", "utm_medium": "cpc", "utm_campaign": "spring",
       "consent": {"processing": True, "marketing": True, "policy_version": "2026-01"}}
# Ann again from work: another address, her phone written another way.
ANN_WORK = {"name": "Ann Example", "email": "ann@annworks.example", "phone": "+44 (20) 7946-0000"}
BOB = {"name": "Bob Other", "email": "bob@example.com", "phone": "+1 555 0100 200", "company": "Bobco",
       "message": "Bob wants a quote", "consent": {"processing": True}}
# Her phone as stored, with its separators: a bare "7946" also turns up by chance in
# hashes and timestamps of the dump (a flaky test).
ANN_SECRETS = ("ann@example.com", "Ann Example", "7946 0000", "7946-0000", "Acme Annworks", "Annworks relaunch",
               "ann-private-thread", "ann-click-123", "ann%40example.com", "Tuesday with Ann")
BOB_SECRETS = ("bob@example.com", "Bob Other", "Bobco", "Bob wants a quote", "0100 200", "Bob signed")


def runtime_settings(settings_for: Callable[..., Settings], backend: str, **privacy: Any) -> Settings:
    return settings_for(
        backend, security={"enabled": False}, notify={"receivers": RECEIVERS}, privacy=privacy,
        leads={"notify_tiers": TIERS, "sites": {"default": {
            "sales_receivers": ["sales"],
            "autoreply": {"enabled": True, "receiver": "mail", "tiers": TIERS}}}},
    )


@dataclass
class World:
    runtime: Runtime
    ids: dict[str, int]

    def submit(self, fields: dict[str, Any], at: datetime, ip: str = "203.0.113.7") -> int:
        outcome = self.runtime.leads.submit(Submission(
            lead=LeadIn.model_validate(fields), site_id="default", ip=ip, received_at=at,
            idempotency_key=f"key-{fields['email']}-{at.timestamp()}"))
        assert outcome.lead_id is not None
        return outcome.lead_id

    def dump(self) -> str:
        """Every stored lead, follow-up, message and audit row, as one text to search."""
        with self.runtime.records.session() as session:
            rows = [
                {c.key: getattr(row, c.key) for c in row.__table__.columns}
                for model in (Lead, LeadActivity, OutboxMessage, PrivacyRequest)
                for row in session.scalars(select(model).order_by(model.id))  # type: ignore[attr-defined]
            ]
        return json.dumps(rows, default=str, ensure_ascii=False)

    def aggregates(self) -> list[tuple[Any, ...]]:
        """What reports count, lead by lead: must not move when a person is erased."""
        with self.runtime.records.session() as session:
            leads = session.scalars(select(Lead).order_by(Lead.id)).all()
            return [(lead.id, lead.site_id, lead.created_at, lead.status, lead.rejected_reason, lead.tier,
                     lead.score, lead.channel, lead.utm_source, lead.utm_campaign, lead.won_value,
                     lead.outcome_at, bool(lead.phone), bool(lead.company), bool(lead.budget),
                     lead.consent, lead.score_breakdown,
                     [(t or {}).get("channel") for t in ((lead.touches or {}).get("first"),)])
                    for lead in leads]


def build_world(runtime: Runtime) -> World:
    runtime.migrate()
    runtime.secret_key = b"k" * 32
    world = World(runtime, {})
    world.ids["ann"] = world.submit(ANN, NOW - timedelta(days=40))
    world.ids["ann_dup"] = world.submit(ANN, NOW - timedelta(days=40, minutes=-1))  # a rejected duplicate
    world.ids["ann_work"] = world.submit(ANN_WORK, NOW - timedelta(days=3))
    world.ids["bob"] = world.submit(BOB, NOW - timedelta(days=50), ip="198.51.100.2")
    with runtime.records.session() as session:
        ann, bob = session.get_one(Lead, world.ids["ann"]), session.get_one(Lead, world.ids["bob"])
        record_followup(session, ann, "contacted", note="Call back Tuesday with Ann", at=NOW - timedelta(days=39))
        record_followup(session, ann, "won", note="Signed", value=5000.0, at=NOW - timedelta(days=30))
        record_followup(session, bob, "won", note="Bob signed", value=3000.0, at=NOW - timedelta(days=45))
        # One message of each person delivered, the rest still waiting.
        for lead_id in (world.ids["ann"], world.ids["bob"]):
            session.execute(update(OutboxMessage)
                            .where(OutboxMessage.message["dedup_key"].as_string() == f"lead-default-{lead_id}")
                            .values(status=SENT, finished_at=NOW, last_error="was slow once"))
    return world
