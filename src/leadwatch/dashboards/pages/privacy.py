"""The Privacy page, for the data controller: look a person up, download their export,
erase them (the privacy service's own functions, as the CLI and the admin API call
them), the audit log of requests and the retention status.

Only the export and the erasure are requests, recorded in the audit log with the UI
user as actor; the lookup before them is not (as ``leadwatch privacy erase`` shows what
it found without recording it)."""

from __future__ import annotations

from typing import Any

from leadwatch.leads.form import normalize_email
from leadwatch.privacy.models import PrivacyRequest
from leadwatch.privacy.subjects import Subject
from leadwatch.runtime import Runtime
from leadwatch.security.sessions import CurrentUser

HISTORY = 50  # audit rows shown, newest first
HASH_SHOWN = 12  # leading hex digits of a subject hash: enough to match rows by eye
ACTOR_PREFIX = "ui:"
ACTOR_LENGTH = 150  # privacy_requests.actor


def actor(user: CurrentUser) -> str:
    """The audit log's actor for a UI user, beside ``cli``, ``api`` and ``retention``.
    A user name may fill the column by itself; the prefix says where it came from."""
    return (ACTOR_PREFIX + user.username)[:ACTOR_LENGTH]


def confirmed(subject: Subject, typed: str) -> bool:
    """Whether ``typed`` is the subject's address (normalised as the lookup is)."""
    try:
        return normalize_email(typed) == subject.email
    except ValueError:
        return False


def request_row(request: PrivacyRequest) -> dict[str, Any]:
    """An audit row as the page shows it: the subject hash cut short."""
    return {
        "id": request.id,
        "kind": request.kind,
        "completed_at": request.completed_at or request.requested_at,
        "site": request.site_id,
        "actor": request.actor,
        "counts": request.counts,
        "hash": request.subject_hash[:HASH_SHOWN] if request.subject_hash else None,
    }


def overview(runtime: Runtime) -> dict[str, Any]:
    """What the page shows before and after any lookup: the audit log, retention."""
    privacy = runtime.privacy
    return {
        "history": [request_row(r) for r in privacy.history(HISTORY)],
        "retention_days": privacy.settings.lead_retention_days,
        "due": privacy.due(),  # None: retention off
    }


def held(runtime: Runtime, subject: Subject) -> dict[str, Any]:
    """What is stored about ``subject``: the export document's parts, without a request."""
    document, counts = runtime.privacy.look_up(subject)
    return {
        "subject": document["subject"],
        "counts": counts,
        "leads": document["leads"],
        "notifications": document["notifications"],
        "accounts": document["accounts"],
        "requests": document["requests"],
    }
