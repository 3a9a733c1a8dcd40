"""The demo's security analyst: works the demo site's open incidents as a small team
would, so the Security page shows a time to resolve and a false-positive rate, and the
history's incidents do not keep the security alerts firing for ever.

An incident awaiting a verdict (flagged or seen in logs; contained ones end by
themselves) is judged a log-normal delay after its detection or its last event,
whichever is later (median
``MEDIAN_MINUTES`` simulated minutes; live ones ``demo.speed`` times sooner in real
time, as live traffic runs); some cross-site scripting and form-spam incidents turn
out to be a prospect's pasted snippet or a keen re-sender: false positives. An SQL
injection incident whose refused lead is a prospect quoting a symbol (the analyst
reads the message: ``traffic.QUOTING_PROSPECT``) is a false positive too, and the
analyst restores the lead from the held-back submissions.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select

from leadwatch.demo.traffic import QUOTING_PROSPECT, lognormal
from leadwatch.leads.models import Lead
from leadwatch.security.incidents import mark
from leadwatch.security.models import SecurityIncident
from leadwatch.store.records import RecordStore
from leadwatch.store.schema import utc_aware

ANALYST = "analyst (demo)"
MEDIAN_MINUTES = 8.0
# The share of each threat's verdicts that find the client harmless: a prospect pasting
# their own tag is script rightly detected (benign); a resend taken for spam is not spam.
HARMLESS = {"xss": ("benign_positive", 0.15), "form_spam": ("false_positive", 0.1)}
NOTES = {"resolved": "Checked the evidence; the attacker got nothing. Closing.",
         "benign_positive": "A prospect's own pasted tag: script, rightly flagged, but theirs. Lead kept.",
         "false_positive": "A prospect resending the form, not spam.",
         "restored": "A prospect quoting a symbol, not an attack: restored the lead."}
REVIEW_REFUSED_FOR = timedelta(days=1)
Restore = Callable[[int, datetime], object]  # (held-back lead id, when): LeadIntake.restore


def triage(records: RecordStore, site_id: str, now: datetime, seed: int | None,
           live_since: datetime | None = None, speed: float = 1.0, restore: Restore | None = None) -> int:
    """Judge the site's open incidents whose verdict is due at ``now``; how many. Each
    incident's delay and verdict come from ``seed`` and its id, so they do not change
    between calls. Incidents detected at or after ``live_since`` run ``speed`` times
    faster. ``restore``: how the analyst restores a held-back prospect's lead."""
    now = utc_aware(now)
    with records.session() as session:
        waiting = session.execute(
            select(SecurityIncident.id, SecurityIncident.threat, SecurityIncident.status,
                   SecurityIncident.first_seen_at, SecurityIncident.detected_at, SecurityIncident.last_seen_at)
            .where(SecurityIncident.site_id == site_id, or_(
                SecurityIncident.status == "open",
                # A refused submission's incident ends by itself (it was contained), but
                # the analyst still reads what was refused (that day: each pass looks again).
                and_(SecurityIncident.threat == "sqli", SecurityIncident.resolved_by == "auto",
                     SecurityIncident.last_seen_at >= now - REVIEW_REFUSED_FOR)))
        ).all()
    judged = 0
    for incident_id, threat, current, first_seen_at, detected_at, last_seen_at in waiting:
        rng = random.Random(f"{seed}/{incident_id}")  # demo.seed may be None (unseeded)
        detected = utc_aware(detected_at)
        delay = lognormal(rng, MEDIAN_MINUTES * 60, 0.8)
        if live_since is not None and detected >= utc_aware(live_since):
            delay /= speed
        # Judged once the attack has gone quiet for the delay, never in its midst.
        due = max(detected, utc_aware(last_seen_at)) + timedelta(seconds=delay)
        if due > now:
            continue
        harmless, share = HARMLESS.get(threat, ("resolved", 0.0))
        status = harmless if rng.random() < share else "resolved"
        note = NOTES[status]
        prospects = _quoting_prospects(records, site_id, first_seen_at, last_seen_at) if threat == "sqli" else []
        if current != "open" and not (prospects and restore is not None):
            continue  # ended by itself, and rightly
        if prospects and restore is not None:
            status, note = "false_positive", NOTES["restored"]
            for lead_id in prospects:
                restore(lead_id, due)
        mark(records, incident_id, status, ANALYST, note, at=due)
        judged += 1
    return judged


def _quoting_prospects(records: RecordStore, site_id: str, first: datetime, last: datetime) -> list[int]:
    """The held-back leads of the incident's span that are a prospect quoting a symbol."""
    second = timedelta(seconds=1)
    with records.session() as session:
        return list(session.scalars(select(Lead.id).where(
            Lead.site_id == site_id, Lead.rejected_reason == "blocked_sqli", Lead.message == QUOTING_PROSPECT,
            Lead.created_at >= utc_aware(first) - second, Lead.created_at <= utc_aware(last) + second)))
