"""The persisted outbox: notifications are rows of the RecordStore until delivered.

``enqueue`` writes a row, in the caller's transaction when given its session, so a
lead and the notification about it commit together or not at all. The worker claims
due rows, delivers each through its receiver's notifier and records the outcome:
``sent``; retried with exponential backoff (or after the receiver's Retry-After) on a
retryable error; ``dead`` on a non-retryable one or after ``notify.max_attempts``.

Claiming is safe across replicas: one UPDATE writes a claim token and a lease end on
rows no one holds (PostgreSQL picks them with ``FOR UPDATE SKIP LOCKED``; SQLite
serialises writers), and only the claimant may record the outcome. A worker that dies
mid-delivery leaves its rows to be taken again when the lease ends, so delivery is
at least once: receivers deduplicate on the message's ``dedup_key``.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy import event as sa_event
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from leadwatch.background import PeriodicService
from leadwatch.notify.base import DeliveryError, Message, Notifier
from leadwatch.notify.models import DEAD, PENDING, SENT, OutboxMessage
from leadwatch.settings import NotifySettings
from leadwatch.store.models import now
from leadwatch.store.records import RecordStore

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

log = structlog.get_logger(__name__)

CLAIM_BATCH = 20
MAX_ERROR = 500


class UnknownReceiver(ValueError):
    pass


@dataclass(frozen=True)
class Claimed:
    id: int
    receiver: str
    message: Message
    attempts: int  # attempts before this one


class OutboxMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.sent = Counter(
            "leadwatch_notifications_sent_total",
            "Notifications delivered.",
            ["receiver"],
            registry=registry,
        )
        self.failures = Counter(
            "leadwatch_notification_failures_total",
            "Delivery attempts that failed.",
            ["receiver", "retryable"],
            registry=registry,
        )
        self.dead = Counter(
            "leadwatch_notifications_dead_total",
            "Notifications given up on (refused for good or out of attempts).",
            ["receiver"],
            registry=registry,
        )
        self.pending = Gauge(
            "leadwatch_notification_outbox_pending",
            "Notifications waiting in the outbox (as of the worker's last pass).",
            registry=registry,
        )
        self.duration = Histogram(
            "leadwatch_notification_delivery_duration_seconds",
            "Time of one delivery attempt.",
            ["receiver"],
            registry=registry,
        )


class Outbox:
    """Enqueue notifications and deliver the due ones (``deliver_due``)."""

    def __init__(
        self,
        records: RecordStore,
        settings: NotifySettings,
        notifiers: dict[str, Notifier],
        registry: CollectorRegistry,
    ):
        self.records = records
        self.settings = settings
        self.notifiers = notifiers
        self.metrics = OutboxMetrics(registry)
        self.due = threading.Event()  # set when something may be due now

    @classmethod
    def for_runtime(cls, runtime: Runtime) -> Outbox:
        from leadwatch.notify.receivers import build_notifiers

        settings = runtime.settings.notify
        return cls(runtime.records, settings, build_notifiers(settings), runtime.metrics.registry)

    def enqueue(self, receiver: str, message: Message, session: Session | None = None) -> int:
        """Persist ``message`` for ``receiver``; its id. With ``session``, the row is part
        of the caller's transaction and the worker is woken when that commits."""
        if receiver not in self.notifiers:
            raise UnknownReceiver(f"no receiver {receiver!r} in notify.receivers")
        row = OutboxMessage(receiver=receiver, message=message.to_dict(), status=PENDING,
                            attempts=0, next_attempt_at=now())
        if session is None:
            with self.records.session() as own:
                own.add(row)
                own.flush()
            self.due.set()
            return row.id
        session.add(row)
        session.flush()
        sa_event.listen(session, "after_commit", lambda _s: self.due.set(), once=True)
        return row.id

    def claim(self, limit: int = CLAIM_BATCH) -> tuple[str, list[Claimed]]:
        """Reserve up to ``limit`` due rows for this worker: the claim token and rows."""
        token = uuid.uuid4().hex
        t = now()
        free = (OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= t,
                or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < t))
        due_ids = (
            select(OutboxMessage.id).where(*free)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
            .with_for_update(skip_locked=True)
        )
        with self.records.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(due_ids.scalar_subquery()), *free)
                .values(claim_token=token,
                        claimed_until=t + timedelta(seconds=self.settings.lease_seconds)),
                execution_options={"synchronize_session": False},
            )
            rows = session.scalars(
                select(OutboxMessage).where(OutboxMessage.claim_token == token).order_by(OutboxMessage.id)
            ).all()
            return token, [
                Claimed(r.id, r.receiver, Message.from_dict(r.message), r.attempts) for r in rows
            ]

    def deliver(self, token: str, item: Claimed) -> str:
        """One attempt at one claimed row; the row's new status."""
        notifier = self.notifiers.get(item.receiver)
        started = time.perf_counter()
        try:
            if notifier is None:
                raise DeliveryError(f"receiver {item.receiver!r} is no longer configured",
                                    retryable=False)
            notifier.send(item.message)
        except DeliveryError as exc:
            error: DeliveryError | None = exc
        except Exception as exc:  # a notifier bug must not stop the worker; retry it
            log.exception("notifier_failed", receiver=item.receiver, outbox_id=item.id)
            error = DeliveryError(f"{type(exc).__name__}: {exc}", retryable=True)
        else:
            error = None
        if notifier is not None:
            self.metrics.duration.labels(item.receiver).observe(time.perf_counter() - started)
        return self._record(token, item, error)

    def _record(self, token: str, item: Claimed, error: DeliveryError | None) -> str:
        attempts = item.attempts + 1
        t = now()
        values: dict[str, object] = {"attempts": attempts, "claim_token": None, "claimed_until": None}
        if error is None:
            status = SENT
            values.update(status=SENT, finished_at=t, last_error=None)
        elif not error.retryable or attempts >= self.settings.max_attempts:
            status = DEAD
            values.update(status=DEAD, finished_at=t, last_error=str(error)[:MAX_ERROR])
        else:
            status = PENDING
            values.update(last_error=str(error)[:MAX_ERROR],
                          next_attempt_at=t + timedelta(seconds=self.backoff(attempts, error.retry_after)))
        with self.records.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == item.id, OutboxMessage.claim_token == token)
                .values(**values)
            )
        if error is None:
            self.metrics.sent.labels(item.receiver).inc()
        else:
            self.metrics.failures.labels(item.receiver, str(error.retryable).lower()).inc()
            log.warning("notification_failed", receiver=item.receiver, outbox_id=item.id,
                        attempts=attempts, status=status, error=str(error)[:MAX_ERROR])
            if status == DEAD:
                self.metrics.dead.labels(item.receiver).inc()
        return status

    def backoff(self, attempts: int, retry_after: float | None = None) -> float:
        """Seconds before the next attempt: the receiver's Retry-After when it gave one,
        else doubling from ``backoff_initial_seconds``; never beyond ``backoff_max_seconds``."""
        cap = self.settings.backoff_max_seconds
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, cap)
        return min(self.settings.backoff_initial_seconds * 2 ** (attempts - 1), cap)

    def release(self, token: str, ids: list[int]) -> None:
        """Give back claimed rows not attempted (at shutdown), for the next worker."""
        if not ids:
            return
        with self.records.session() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids), OutboxMessage.claim_token == token)
                .values(claim_token=None, claimed_until=None)
            )

    def deliver_due(self, stop: threading.Event | None = None) -> int:
        """Claim and deliver due rows until none are due (or ``stop`` is set)."""
        delivered = 0
        while stop is None or not stop.is_set():
            token, items = self.claim()
            if not items:
                break
            for i, item in enumerate(items):
                if stop is not None and stop.is_set():
                    self.release(token, [it.id for it in items[i:]])
                    break
                self.deliver(token, item)
                delivered += 1
        self.metrics.pending.set(self.pending_count())
        return delivered

    def pending_count(self) -> int:
        with self.records.session() as session:
            return int(session.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == PENDING)
            ) or 0)


class OutboxWorker(PeriodicService):
    """The background service that runs :meth:`Outbox.deliver_due`: at once when a
    message is enqueued here, else every ``notify.poll_interval_seconds`` (which also
    picks up retries and rows enqueued by other replicas)."""

    name = "notify-outbox"
    run_first = True
    failure_event = "outbox_pass_failed"  # the store may be down for a while: keep trying
    # The attempt in flight finishes (bounded by the notifier's timeout) and is
    # recorded; rows claimed but not attempted are released for the next start.
    join_timeout = 330

    def __init__(self, outbox: Outbox):
        super().__init__()
        self.outbox = outbox
        self.interval = outbox.settings.poll_interval_seconds

    def tick(self) -> None:
        self.outbox.due.clear()  # first: a message enqueued during the pass wakes the next wait
        self.outbox.deliver_due(self._stop)

    def wait(self, seconds: float) -> bool:
        # A close() between the loop's stop check and tick()'s due.clear() lost its
        # wake-up: look at the stop event before sleeping on the due event.
        if not self._stop.is_set():
            self.outbox.due.wait(seconds)
        return self._stop.is_set()

    def wake(self) -> None:
        self.outbox.due.set()
