"""The outbox messages about leads: the sales message (name, e-mail, phone and
message of the lead) and the automated reply addressed to the person.

Both carry the lead in their ``dedup_key`` (``lead-<site>-<id>`` and
``lead-reply-<site>-<id>``, see leads/routing.py and leads/autoreply.py), which is
how they are found: the message JSON is searched as text for the quoted key, which
works alike on SQLite and PostgreSQL, and the key is then compared exactly.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Text, cast, or_, select
from sqlalchemy.orm import Session

from leadwatch.leads.models import Lead
from leadwatch.notify.models import OutboxMessage
from leadwatch.privacy.subjects import ERASED

# Leads per query: two LIKE terms each, well below SQLite's expression depth limit.
CHUNK = 100


def lead_keys(lead: Lead) -> tuple[str, str]:
    return f"lead-{lead.site_id}-{lead.id}", f"lead-reply-{lead.site_id}-{lead.id}"


def messages_about(session: Session, leads: Iterable[Lead]) -> list[OutboxMessage]:
    """The outbox rows about any of ``leads``, oldest first."""
    keys = [key for lead in leads for key in lead_keys(lead)]
    found: dict[int, OutboxMessage] = {}
    text = cast(OutboxMessage.message, Text)
    for start in range(0, len(keys), CHUNK * 2):
        chunk = keys[start:start + CHUNK * 2]
        query = select(OutboxMessage).where(or_(*(text.like(f'%"{key}"%') for key in chunk)))
        wanted = set(chunk)
        found.update((m.id, m) for m in session.scalars(query) if m.message.get("dedup_key") in wanted)
    return [found[i] for i in sorted(found)]


def redacted(message: dict[str, Any]) -> dict[str, Any]:
    """A delivered message with its content gone: what remains says that a message of
    this kind went out, which the delivery history needs, and nothing about whom."""
    return {
        "subject": ERASED,
        "text": ERASED,
        "severity": message.get("severity", "info"),
        "dedup_key": message.get("dedup_key"),
        "action": message.get("action", "trigger"),
        "links": {},
        "facts": {},
    }
