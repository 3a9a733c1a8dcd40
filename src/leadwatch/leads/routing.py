"""Speed to lead: the message that tells sales about a lead worth calling now, queued
in the notification outbox in the lead's own transaction (both commit or neither)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from leadwatch.leads.models import Lead, found_in
from leadwatch.notify.base import Message
from leadwatch.notify.outbox import Outbox

SEVERITY = {"premium": "critical", "high": "warning"}


def sales_message(lead: Lead, site_name: str, public_url: str | None) -> Message:
    who = lead.name + (f" ({lead.company})" if lead.company else "")
    due = f"{lead.follow_up_due:%Y-%m-%d %H:%M} UTC" if lead.follow_up_due else "no deadline"
    facts = {
        "Score": f"{lead.score} ({lead.tier})",
        "Follow up by": due,
        "Email": lead.email,
        "Phone": lead.phone or "-",
        "Company": lead.company or "-",
        "Budget": lead.budget or "-",
        "Channel": lead.channel or "-",
        "Site": site_name,
    }
    if lead.flags:
        facts["Flagged"] = found_in(lead.flags)
    # The lead's page in the UI (after the login), which sales can open; the API needs a token.
    links = {"Lead": f"{public_url}/ui/leads/{lead.id}"} if public_url else {}
    text = f"New {lead.tier} lead from {who}, score {lead.score}."
    if lead.message:
        # Plain text only: notifiers must not render it as markup (it may be flagged XSS).
        text += "\n\nMessage:\n" + lead.message[:1000]
    return Message(
        subject=f"{lead.tier.capitalize()} lead: {who}",
        text=text,
        severity=SEVERITY.get(lead.tier, "info"),  # type: ignore[arg-type]
        dedup_key=f"lead-{lead.site_id}-{lead.id}",
        links=links,
        facts=facts,
    )


def route(
    session: Session, outbox: Outbox, lead: Lead, receivers: list[str], site_name: str,
    public_url: str | None,
) -> list[int]:
    """Queue the sales message for each receiver; the outbox row ids."""
    message = sales_message(lead, site_name, public_url)
    return [outbox.enqueue(receiver, message, session=session) for receiver in receivers]
