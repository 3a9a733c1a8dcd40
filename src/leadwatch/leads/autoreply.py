"""The automated response: an acknowledgement emailed to the person who submitted a
lead that no salesperson will call (by default the low and poor tiers), queued in
the notification outbox in the lead's own transaction, like the message to sales.

Only real leads get it: never a refused submission (spam, duplicate, over a limit),
never one flagged as carrying an attack, and, unless the site says otherwise, only
with processing consent. The form's free text is not offered to the templates: an
automated reply would otherwise relay whatever a stranger typed to whatever address
they typed.
"""

from __future__ import annotations

from typing import Any

import structlog
from jinja2 import TemplateError
from sqlalchemy.orm import Session

from leadwatch.leads.models import Lead
from leadwatch.leads.reply_template import render
from leadwatch.notify.base import Message
from leadwatch.notify.outbox import Outbox
from leadwatch.settings import AutoReplySettings, SiteSettings

log = structlog.get_logger(__name__)


def wants_autoreply(lead: Lead, config: AutoReplySettings) -> bool:
    if not config.enabled or lead.rejected_reason is not None or lead.flags:
        return False
    if config.require_processing_consent and not (lead.consent or {}).get("processing"):
        return False
    return lead.tier in config.tiers


def autoreply_message(lead: Lead, config: AutoReplySettings, site: SiteSettings) -> Message:
    context: dict[str, Any] = {"name": lead.name, "company": lead.company, "site": site.name,
                               "domain": site.domain}
    return Message(
        subject=render(config.subject, context),
        text=render(config.body, context),
        dedup_key=f"lead-reply-{lead.site_id}-{lead.id}",
        to=(lead.email,),
        sender=config.sender,
        reply_to=config.reply_to,
    )


def queue_autoreply(
    session: Session, outbox: Outbox, lead: Lead, config: AutoReplySettings, site: SiteSettings
) -> int | None:
    """Queue the acknowledgement when the lead and the site call for one; its outbox id."""
    if not wants_autoreply(lead, config) or config.receiver is None:
        return None
    try:
        message = autoreply_message(lead, config, site)
    except TemplateError:
        # Checked at start-up; should a value still break it, the lead must not fail.
        log.exception("lead_autoreply_unrendered", lead_id=lead.id, site_id=lead.site_id)
        return None
    return outbox.enqueue(config.receiver, message, session=session)
