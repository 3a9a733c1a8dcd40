"""Recording what sales did: a follow-up or an outcome moves the lead's status and
is kept as an activity, so the scoring report can compare tiers with results."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from leadwatch.leads.models import Lead, LeadActivity
from leadwatch.store.models import now

OUTCOMES = ("contacted", "qualified", "won", "lost")
# The pipeline's order: a follow-up repeats the lead's stage or moves it on, never
# back; won and lost are outcomes, and final.
STAGE = {"new": 0, "contacted": 1, "qualified": 2, "won": 3, "lost": 3}
FINAL = ("won", "lost")


class FollowUpError(ValueError):
    """``field`` is the input at fault; ``conflict``: the input is fine but the lead's
    state refuses it (409 rather than 422)."""

    def __init__(self, field: str, message: str, conflict: bool = False):
        super().__init__(message)
        self.field = field
        self.conflict = conflict


def record_followup(
    session: Session, lead: Lead, status: str, note: str | None = None,
    value: float | None = None, at: datetime | None = None,
) -> LeadActivity:
    if status not in OUTCOMES:
        raise FollowUpError("status", f"must be one of {', '.join(OUTCOMES)}")
    if status == "won" and value is None:
        raise FollowUpError("value", "a won lead needs the value of the deal")
    if status != "won" and value is not None:
        raise FollowUpError("value", "only a won lead has a value")
    if lead.rejected_reason is not None:
        raise FollowUpError("id", f"this submission was rejected ({lead.rejected_reason})", conflict=True)
    if lead.status in FINAL:
        raise FollowUpError("status", f"the lead is already {lead.status}: an outcome is final",
                            conflict=True)
    if STAGE[status] < STAGE[lead.status]:
        raise FollowUpError("status", f"the lead is already {lead.status}: a follow-up cannot "
                            f"move it back to {status}", conflict=True)
    when = at or now()
    # Any activity is a follow-up: the lead is no longer waiting (nor overdue).
    lead.contacted_at = lead.contacted_at or when
    lead.status = status
    if status in ("qualified", "won", "lost"):
        lead.outcome_at = when
    if status == "won":
        lead.won_value = value
    activity = LeadActivity(lead_id=lead.id, at=when, status=status, note=note, value=value)
    session.add(activity)
    session.flush()
    return activity
