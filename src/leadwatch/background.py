"""Background services: work that runs on one daemon thread until ``close()``.

Every Runtime service with a loop (salt rotation, ban reloads, the outbox worker, the
evaluator, the scheduler, the write buffers' flushers...) takes its thread plumbing
from here, so starting, waking, stopping and joining are written once:

- :class:`ThreadedService` runs ``run()`` on a daemon thread named after the service;
  ``close()`` sets the stop event, wakes the loop and joins it (within the service's
  ``join_timeout``). Closing twice, or without starting, stops nothing more (a
  periodic service with ``tick_on_close`` ticks on each close).
- :class:`PeriodicService` is the common loop: ``tick()`` every ``interval`` seconds
  (first at once, or after one interval), a failing tick logged with its traceback
  and tried again next round, and an optional last tick after the thread stopped.
"""

from __future__ import annotations

import threading
from typing import ClassVar, Literal

import structlog


class ThreadedService:
    """A Runtime service whose work, ``run()``, runs on one daemon thread and returns
    once ``self._stop`` is set (subclasses call ``super().__init__()``)."""

    name: str
    # Seconds ``close()`` waits for the thread; None waits as long as the work takes
    # (services whose work is bounded and must finish, such as a last flush).
    join_timeout: ClassVar[float | None] = None

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        """The thread's work; return soon after ``self._stop`` is set."""
        raise NotImplementedError

    def wake(self) -> None:
        """Interrupt the loop's wait so it sees the stop event. Waiting on the stop
        event itself needs nothing more; a loop that waits on another event (work
        arrived, a schedule changed) sets that one here."""

    def start(self) -> None:
        if self._thread is not None:
            # A thread that outlived close()'s join would run on beside a new one.
            raise RuntimeError(f"{self.name}: the last run's thread has not ended")
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(self.join_timeout)
            if not self._thread.is_alive():
                self._thread = None


class PeriodicService(ThreadedService):
    """A service that calls ``tick()`` every ``interval`` seconds until closed.

    Subclasses set ``interval`` (usually in ``__init__``), ``failure_event`` (the log
    event of a failed tick, which runbooks and searches may name) and, where it
    applies, ``run_first``, ``tick_on_close`` and ``failure_level``."""

    interval: float
    failure_event: ClassVar[str]
    # Tick as soon as the thread starts, rather than after the first interval.
    run_first: ClassVar[bool] = False
    # Tick once more in close(), after the thread stopped: what came in meanwhile.
    tick_on_close: ClassVar[bool] = False
    # "warning" where a failure is expected now and then and soon mended by itself.
    failure_level: ClassVar[Literal["warning", "error"]] = "error"

    def tick(self) -> None:
        raise NotImplementedError

    def wait(self, seconds: float) -> bool:
        """Sleep until the next round (or a wake-up); True when the service stops."""
        return self._stop.wait(seconds)

    def run(self) -> None:
        if not self.run_first and self.wait(self.interval):
            return
        while not self._stop.is_set():
            self._tick_logged()
            if self.wait(self.interval):
                return

    def close(self) -> None:
        super().close()
        if self.tick_on_close:
            self._tick_logged()

    def _tick_logged(self) -> None:
        try:
            self.tick()
        except Exception:  # a failed round must not end the service; the next one retries
            # Logged under the subclass's module, where its other lines come from.
            log = structlog.get_logger(type(self).__module__)
            if self.failure_level == "warning":
                log.warning(self.failure_event, exc_info=True)
            else:
                log.exception(self.failure_event)
