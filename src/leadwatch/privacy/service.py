"""Data-subject requests and the retention job, each written to the audit log.

An export or an erasure runs in one transaction with its audit row: an erasure
either happens entirely and is recorded, or not at all. The audit row keeps the
subject's keyed hash, the site, who asked, when, and the rows per table; never
the address. The same entry points serve the CLI (``leadwatch privacy``), the admin
API and the retention service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from leadwatch.leads.models import Lead
from leadwatch.privacy.anonymise import anonymise
from leadwatch.privacy.export import subject_document
from leadwatch.privacy.models import PrivacyRequest
from leadwatch.privacy.subjects import ERASED, SUBJECT_KEY, Subject
from leadwatch.settings import PrivacySettings
from leadwatch.store.models import now
from leadwatch.store.records import RecordStore

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

# Leads anonymised per transaction by the retention job.
RETENTION_BATCH = 500


@dataclass(frozen=True)
class Done:
    request_id: int | None  # None: nothing to record (a retention run that found nothing)
    counts: dict[str, int]


@dataclass(frozen=True)
class Due:
    """What a retention run would anonymise now."""

    cutoff: datetime
    leads: int
    oldest: datetime | None


class Privacy:
    def __init__(self, records: RecordStore, settings: PrivacySettings, registry: CollectorRegistry):
        self.records = records
        self.settings = settings
        self.requests = Counter(
            "leadwatch_privacy_requests_total",
            "Data-subject exports and erasures answered, and retention runs that anonymised leads.",
            ["kind"],
            registry=registry,
        )
        self._key: bytes | None = None

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Privacy:
        return cls(runtime.records, runtime.settings.privacy, runtime.metrics.registry)

    def subject_hash(self, subject: Subject) -> str:
        if self._key is None:
            self._key = self.records.instance_secret(SUBJECT_KEY)
        return subject.hash(self._key)

    def export(self, subject: Subject, actor: str) -> dict[str, Any]:
        """The subject's document (see privacy/export.py), with ``request_id``."""
        subject_hash, requested = self.subject_hash(subject), now()
        with self.records.session() as session:
            document, counts = subject_document(session, subject, subject_hash)
            request = self._audit(session, "export", subject_hash, subject.site_id, requested, actor, counts)
        self.requests.labels("export").inc()
        return {"request_id": request.id, "generated_at": (request.completed_at or requested).isoformat(), **document}

    def look_up(self, subject: Subject) -> tuple[dict[str, Any], dict[str, int]]:
        """The subject's document and rows per table, without a request: what an admin
        checks before answering one (only the export or erasure itself is recorded)."""
        with self.records.session() as session:
            return subject_document(session, subject, self.subject_hash(subject))

    def found(self, subject: Subject) -> dict[str, int]:
        """Rows of the subject per table, without a request (to confirm an erasure)."""
        return self.look_up(subject)[1]

    def erase(self, subject: Subject, actor: str) -> Done:
        """Anonymise the subject's leads and what hangs off them; repeating it changes
        nothing more (and is recorded again, with zero counts)."""
        subject_hash, requested = self.subject_hash(subject), now()
        with self.records.session() as session:
            counts = anonymise(session, subject.leads(session))
            request = self._audit(session, "erase", subject_hash, subject.site_id, requested, actor, counts)
        self.requests.labels("erase").inc()
        return Done(request.id, counts)

    def due(self, at: datetime | None = None) -> Due | None:
        """What retention would anonymise now; None when retention is off."""
        if self.settings.lead_retention_days is None:
            return None
        cutoff = (at or now()) - timedelta(days=self.settings.lead_retention_days)
        with self.records.session() as session:
            count, oldest = session.execute(
                select(func.count(), func.min(Lead.created_at)).where(*_past(cutoff))
            ).one()
        return Due(cutoff, int(count), oldest)

    def apply_retention(self, at: datetime | None = None, actor: str = "retention",
                        batch_size: int = RETENTION_BATCH) -> Done:
        """Anonymise every lead older than ``privacy.lead_retention_days``, a batch per
        transaction, each with its audit row (so no batch is ever anonymised unrecorded);
        the last request's id and the run's totals."""
        due = self.due(at)
        if due is None:
            return Done(None, {})
        totals: dict[str, int] = {}
        last: int | None = None
        while True:
            requested = now()
            with self.records.session() as session:
                # Replicas running the job at once take different batches (PostgreSQL).
                batch = session.scalars(select(Lead).where(*_past(due.cutoff)).order_by(Lead.id)
                                        .limit(batch_size).with_for_update(skip_locked=True)).all()
                counts = anonymise(session, batch)
                if batch:
                    last = self._audit(session, "retention", None, None, requested, actor, counts).id
            if batch:
                self.requests.labels("retention").inc()
            for name, value in counts.items():
                totals[name] = totals.get(name, 0) + value
            if len(batch) < batch_size:
                break
        return Done(last, totals)

    def history(self, limit: int = 50) -> list[PrivacyRequest]:
        """The latest audit rows, newest first."""
        with self.records.session() as session:
            return list(session.scalars(select(PrivacyRequest).order_by(PrivacyRequest.id.desc()).limit(limit)))

    def request(self, request_id: int) -> PrivacyRequest | None:
        """One audit row, by id."""
        with self.records.session() as session:
            return session.get(PrivacyRequest, request_id)

    @staticmethod
    def _audit(session: Session, kind: str, subject_hash: str | None, site_id: str | None,
               requested: datetime, actor: str, counts: dict[str, int]) -> PrivacyRequest:
        request = PrivacyRequest(kind=kind, subject_hash=subject_hash, site_id=site_id,
                                 requested_at=requested, completed_at=now(), actor=actor, counts=counts)
        session.add(request)
        session.flush()
        return request


def _past(cutoff: datetime) -> tuple[Any, ...]:
    """Leads created before ``cutoff`` and not yet anonymised."""
    return Lead.created_at < cutoff, Lead.email != ERASED
