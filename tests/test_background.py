"""The base of leadwatch's background services: one daemon thread, started and closed.

Intervals here are tiny or huge so that nothing waits on the clock: a tiny one lets
ticks pile up while the test waits for an event; a huge one means "never again"."""

from __future__ import annotations

import threading

import pytest
from structlog.testing import capture_logs

from leadwatch.background import PeriodicService, ThreadedService

NEVER = 3600.0  # an interval no test outlives
PATIENCE = 10.0  # how long a test waits for a thread before it calls it stuck


class Ticker(PeriodicService):
    name = "test-counter"
    failure_event = "test_tick_failed"

    def __init__(self, interval: float, *, fail_first: int = 0):
        super().__init__()
        self.interval = interval
        self.ticks = 0
        self.fail_first = fail_first
        self.reach = 1
        self.reached = threading.Event()  # set at the ``reach``-th tick
        self.threads: list[threading.Thread] = []

    def tick(self) -> None:
        self.ticks += 1
        self.threads.append(threading.current_thread())
        if self.ticks == self.reach:
            self.reached.set()
        if self.ticks <= self.fail_first:
            raise RuntimeError(f"tick {self.ticks} failed")


class RunFirst(Ticker):
    run_first = True


class FlushOnClose(Ticker):
    tick_on_close = True


class Warns(RunFirst):
    failure_level = "warning"


def run_until(service: Ticker, ticks: int) -> None:
    """Start ``service``, wait for its ``ticks``-th tick in all, close it."""
    service.reach = ticks
    service.reached.clear()
    service.start()
    try:
        assert service.reached.wait(PATIENCE), f"no tick {ticks} in {PATIENCE} s"
    finally:
        service.close()


def test_ticks_repeat_at_the_interval_on_a_daemon_thread_named_after_the_service() -> None:
    service = Ticker(0.001)
    run_until(service, 5)
    assert service.ticks >= 5
    thread = service.threads[0]
    assert thread is not threading.current_thread()
    assert thread.name == "test-counter" and thread.daemon
    assert all(t is thread for t in service.threads)


def test_a_failing_tick_is_logged_with_its_traceback_and_the_next_round_runs() -> None:
    service = Ticker(0.001, fail_first=2)
    with capture_logs() as logs:
        run_until(service, 4)
    failures = [e for e in logs if e["event"] == "test_tick_failed"]
    assert len(failures) == 2
    assert all(e["log_level"] == "error" and e["exc_info"] for e in failures)


def test_a_service_may_log_its_expected_failures_as_warnings() -> None:
    service = Warns(NEVER, fail_first=1)
    with capture_logs() as logs:
        run_until(service, 1)
    assert [(e["event"], e["log_level"]) for e in logs] == [("test_tick_failed", "warning")]


def test_run_first_ticks_at_once() -> None:
    service = RunFirst(NEVER)
    run_until(service, 1)
    assert service.ticks == 1


def test_wait_first_does_not_tick_before_the_first_interval() -> None:
    service = Ticker(NEVER)
    service.start()
    thread = service._thread
    service.close()
    assert thread is not None and not thread.is_alive()
    assert service.ticks == 0


def test_close_stops_the_loop_and_joins_its_thread() -> None:
    service = Ticker(0.001)
    run_until(service, 3)
    thread = service.threads[0]
    assert not thread.is_alive()
    assert service._thread is None
    ticks = service.ticks  # the thread has ended: nothing can tick any more
    service.close()
    assert service.ticks == ticks


def test_close_without_start_and_a_second_close_are_harmless() -> None:
    service = Ticker(0.001)
    service.close()
    service.close()
    assert service.ticks == 0
    assert service._thread is None


def test_a_closed_service_starts_again() -> None:
    service = RunFirst(NEVER)  # one tick a start
    run_until(service, 1)
    run_until(service, 2)
    assert service.ticks == 2


def test_tick_on_close_runs_one_more_tick_after_the_thread_ended() -> None:
    service = FlushOnClose(NEVER)
    service.start()
    service.close()
    assert service.ticks == 1
    assert service.threads == [threading.current_thread()]  # in close(), not the loop


def test_a_failing_last_tick_is_logged_and_close_returns() -> None:
    service = FlushOnClose(NEVER, fail_first=1)
    with capture_logs() as logs:
        service.close()
    assert [e["event"] for e in logs] == ["test_tick_failed"]


class OwnEvent(PeriodicService):
    """Waits on its own event, as the outbox worker waits for new messages."""

    name = "test-own-event"
    failure_event = "test_tick_failed"
    join_timeout = PATIENCE  # a close that fails to wake it returns, and the test fails
    run_first = True

    def __init__(self) -> None:
        super().__init__()
        self.interval = NEVER
        self.work = threading.Event()
        self.ticks = 0
        self.ticked = threading.Semaphore(0)

    def tick(self) -> None:
        self.work.clear()
        self.ticks += 1
        self.ticked.release()

    def wait(self, seconds: float) -> bool:
        self.work.wait(seconds)
        return self._stop.is_set()

    def wake(self) -> None:
        self.work.set()


def test_a_loop_waiting_on_its_own_event_runs_when_it_is_set_and_close_wakes_it() -> None:
    service = OwnEvent()
    service.start()
    thread = service._thread
    assert service.ticked.acquire(timeout=PATIENCE)  # run first
    service.work.set()
    assert service.ticked.acquire(timeout=PATIENCE)  # woken long before the interval
    service.close()
    assert thread is not None and not thread.is_alive()
    assert service.ticks == 2


class Blocked(ThreadedService):
    name = "test-blocked"
    join_timeout = 0.01

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def run(self) -> None:
        self.release.wait(PATIENCE)


def test_close_waits_no_longer_than_the_join_timeout() -> None:
    service = Blocked()
    service.start()
    thread = service._thread
    assert thread is not None
    service.close()  # the work ignores the stop event: close gives up after join_timeout
    try:
        assert thread.is_alive()
        with pytest.raises(RuntimeError, match="has not ended"):
            service.start()  # a second thread would run beside the first
    finally:
        service.release.set()
        thread.join(PATIENCE)
    assert not thread.is_alive()
    service.close()  # now it has ended: the service may start again
    service.start()
    service.release.set()
    service.close()
    assert service._thread is None


def test_run_must_be_written_by_the_service() -> None:
    with pytest.raises(NotImplementedError):
        ThreadedService().run()
