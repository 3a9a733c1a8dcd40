"""The outbox: in the caller's transaction, retries with backoff, dead letters,
exclusive claims across workers, and nothing lost when a worker dies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta

import pytest
from prometheus_client import CollectorRegistry
from sqlalchemy import select, update

from leadwatch.notify.base import DeliveryError, Message
from leadwatch.notify.models import DEAD, PENDING, SENT, OutboxMessage
from leadwatch.notify.outbox import Outbox, OutboxWorker, UnknownReceiver
from leadwatch.settings import NotifySettings, Settings
from leadwatch.store.migrate import upgrade_records
from leadwatch.store.models import now
from leadwatch.store.records import RecordStore


class Recorder:
    """A notifier that records what it was given and fails as told."""

    kind = "test"

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self.failures: list[DeliveryError] = []
        self.lock = threading.Lock()

    def send(self, message: Message) -> None:
        with self.lock:
            if self.failures:
                raise self.failures.pop(0)
            self.sent.append(message)


@pytest.fixture
def records(settings: Settings) -> Iterator[RecordStore]:
    store = RecordStore.open(settings)
    upgrade_records(store.engine)
    yield store
    store.close()


def make_outbox(records: RecordStore, notifier: Recorder, **options: float) -> Outbox:
    settings = NotifySettings(**{"backoff_initial_seconds": 5, "max_attempts": 3, **options})
    return Outbox(records, settings, {"sales": notifier}, CollectorRegistry())


def make_due(records: RecordStore) -> None:
    """Let time pass: every pending row is due now."""
    with records.session() as session:
        session.execute(update(OutboxMessage).values(next_attempt_at=now() - timedelta(seconds=1)))


def rows(records: RecordStore) -> list[OutboxMessage]:
    with records.session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_enqueue_belongs_to_the_callers_transaction(records: RecordStore) -> None:
    outbox = make_outbox(records, Recorder())
    with pytest.raises(RuntimeError), records.session() as session:
        outbox.enqueue("sales", Message("rolled back", "x"), session=session)
        raise RuntimeError("the caller's work failed")
    assert rows(records) == []
    with records.session() as session:
        outbox.enqueue("sales", Message("committed", "x"), session=session)
    assert outbox.due.is_set()  # the worker is woken once the transaction commits
    assert [r.message["subject"] for r in rows(records)] == ["committed"]
    with pytest.raises(UnknownReceiver):
        outbox.enqueue("nobody", Message("s", "t"))


def test_delivery_retries_with_backoff_then_succeeds(records: RecordStore) -> None:
    notifier = Recorder()
    notifier.failures = [DeliveryError("busy", retryable=True), DeliveryError("busy", retryable=True)]
    outbox = make_outbox(records, notifier)
    outbox.enqueue("sales", Message("hello", "text", dedup_key="k1"))

    before = now()
    assert outbox.deliver_due() == 1
    (row,) = rows(records)
    assert (row.status, row.attempts) == (PENDING, 1)
    assert timedelta(seconds=4) < row.next_attempt_at - before < timedelta(seconds=10)
    assert outbox.deliver_due() == 0  # not due yet

    make_due(records)
    before = now()
    outbox.deliver_due()
    (row,) = rows(records)
    assert row.attempts == 2 and row.next_attempt_at - before > timedelta(seconds=9)  # doubled

    make_due(records)
    outbox.deliver_due()
    (row,) = rows(records)
    assert (row.status, row.attempts) == (SENT, 3)
    assert [m.dedup_key for m in notifier.sent] == ["k1"]
    assert outbox.metrics.sent.labels("sales")._value.get() == 1


def test_retry_after_is_honoured(records: RecordStore) -> None:
    notifier = Recorder()
    notifier.failures = [DeliveryError("slow down", retryable=True, retry_after=120)]
    outbox = make_outbox(records, notifier)
    outbox.enqueue("sales", Message("s", "t"))
    before = now()
    outbox.deliver_due()
    assert rows(records)[0].next_attempt_at - before > timedelta(seconds=119)


def test_non_retryable_errors_and_exhausted_attempts_are_dead(records: RecordStore) -> None:
    notifier = Recorder()
    notifier.failures = [DeliveryError("bad request", retryable=False)]
    outbox = make_outbox(records, notifier)
    outbox.enqueue("sales", Message("refused", "t"))
    outbox.deliver_due()
    assert (rows(records)[0].status, rows(records)[0].attempts) == (DEAD, 1)

    notifier.failures = [DeliveryError("down", retryable=True)] * 3
    outbox.enqueue("sales", Message("unlucky", "t"))
    for _ in range(3):
        make_due(records)
        outbox.deliver_due()
    last = rows(records)[1]
    assert (last.status, last.attempts) == (DEAD, 3) and "down" in (last.last_error or "")
    assert outbox.metrics.dead.labels("sales")._value.get() == 2
    assert notifier.sent == []


def test_two_workers_never_claim_the_same_row(records: RecordStore) -> None:
    outbox = make_outbox(records, Recorder())
    for n in range(50):
        outbox.enqueue("sales", Message(f"m{n}", "t"))
    claimed: list[list[int]] = []
    barrier = threading.Barrier(4)

    def claim() -> None:
        barrier.wait()
        mine: list[int] = []
        while True:
            _token, items = outbox.claim(limit=3)
            if not items:
                break
            mine += [i.id for i in items]
        claimed.append(mine)

    threads = [threading.Thread(target=claim) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    every = [i for mine in claimed for i in mine]
    assert sorted(every) == sorted(set(every)) and len(every) == 50


def test_a_dead_workers_rows_are_delivered_after_its_lease(records: RecordStore) -> None:
    notifier = Recorder()
    outbox = make_outbox(records, notifier, lease_seconds=10)
    outbox.enqueue("sales", Message("orphan", "t"))
    _token, items = outbox.claim()  # a worker claims it, then dies before delivering
    assert len(items) == 1 and outbox.deliver_due() == 0
    with records.session() as session:  # the lease runs out
        session.execute(update(OutboxMessage).values(claimed_until=now() - timedelta(seconds=1)))
    assert outbox.deliver_due() == 1
    assert [m.subject for m in notifier.sent] == ["orphan"]


def test_the_worker_delivers_at_once_and_stops_cleanly(records: RecordStore) -> None:
    notifier = Recorder()
    outbox = make_outbox(records, notifier, poll_interval_seconds=300)
    worker = OutboxWorker(outbox)
    worker.start()
    try:
        with records.session() as session:
            outbox.enqueue("sales", Message("now", "t"), session=session)
        for _ in range(600):  # woken by the commit, not by the 300 s poll
            if notifier.sent:
                break
            threading.Event().wait(0.05)
    finally:
        worker.close()
    assert [m.subject for m in notifier.sent] == ["now"]
    assert rows(records)[0].status == SENT
