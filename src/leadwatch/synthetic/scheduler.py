"""When journeys run: every ``frequency`` seconds, each start delayed by a random
jitter (so journeys and probes do not hit the site in lockstep), never two runs of
one journey at once (a run still going at its next slot skips that slot), and at
most ``workers`` runs at a time.

:class:`Schedule` is the plan, with the clock passed in, so tests drive it without
waiting; :class:`Scheduler` runs a plan in a thread and its runs in a thread pool.
The same scheduler runs journeys in the server and in a remote ``leadwatch probe``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

from leadwatch.background import ThreadedService
from leadwatch.synthetic.journey import Journey

log = structlog.get_logger(__name__)

MAX_SLEEP = 1.0  # the loop wakes at least this often (ticks, closing)


class Schedule:
    def __init__(self, journeys: list[Journey], now: float, jitter: float = 0.1,
                 rng: random.Random | None = None):
        self.jitter = jitter
        self.rng = rng or random.Random()
        self._journeys: dict[str, Journey] = {}
        self._slot: dict[str, float] = {}
        self._due: dict[str, float] = {}
        self._running: set[str] = set()
        self.replace(journeys, now)

    def replace(self, journeys: list[Journey], now: float) -> None:
        """A new set of journeys; unchanged ones keep their slots, new ones start now."""
        self._journeys = {j.name: j for j in journeys}
        for name in list(self._slot):
            if name not in self._journeys:
                del self._slot[name], self._due[name]
        for name, journey in self._journeys.items():
            if name not in self._slot:
                self._slot[name] = now
                self._due[name] = now + self._delay(journey)

    def _delay(self, journey: Journey) -> float:
        return self.rng.uniform(0, self.jitter * journey.frequency)

    def due(self, now: float) -> tuple[list[Journey], list[str]]:
        """Journeys to start now (marked running) and those whose slot passed while
        their previous run was still going (skipped)."""
        start, skipped = [], []
        for name, journey in self._journeys.items():
            if self._due[name] > now:
                continue
            if name in self._running:
                skipped.append(name)
            else:
                start.append(journey)
                self._running.add(name)
            slot = self._slot[name]
            while slot <= now:  # missed slots are not made up: the next one is in the future
                slot += journey.frequency
            self._slot[name] = slot
            self._due[name] = slot + self._delay(journey)
        return start, skipped

    def finished(self, name: str) -> None:
        self._running.discard(name)

    def next_due(self) -> float | None:
        return min(self._due.values(), default=None)


class Scheduler(ThreadedService):
    """Runs a :class:`Schedule` in a thread; the ``run`` callable given runs each
    journey in a pool of ``workers`` threads; ``tick()`` (if given) runs in the loop
    about every second."""

    def __init__(
        self,
        journeys: list[Journey],
        run: Callable[[Journey], object],
        *,
        workers: int = 4,
        jitter: float = 0.1,
        on_skip: Callable[[str], None] | None = None,
        tick: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        name: str = "synthetic-scheduler",
    ):
        super().__init__()
        self.name = name
        self.clock = clock
        self.schedule = Schedule(journeys, clock(), jitter, rng)
        self._run_journey = run
        self._on_skip = on_skip
        self._tick = tick
        self._workers = workers
        self._lock = threading.Lock()
        self._wake = threading.Event()  # the schedule changed or a run finished
        self._pool: ThreadPoolExecutor | None = None

    def replace(self, journeys: list[Journey]) -> None:
        with self._lock:
            self.schedule.replace(journeys, self.clock())
        self._wake.set()

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="synthetic-run")
        super().start()

    def wake(self) -> None:
        self._wake.set()

    def close(self) -> None:
        """Stop scheduling; wait for the runs in progress (each bounded by its timeout)."""
        super().close()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def run(self) -> None:
        assert self._pool is not None
        while not self._stop.is_set():
            with self._lock:
                start, skipped = self.schedule.due(self.clock())
                next_due = self.schedule.next_due()
            for name in skipped:
                log.warning("synthetic_run_skipped", journey=name, reason="previous run still going")
                if self._on_skip:
                    self._on_skip(name)
            for journey in start:
                self._pool.submit(self._run_one, journey)
            if self._tick:
                try:
                    self._tick()
                except Exception:  # a failing tick must not stop the schedule
                    log.exception("synthetic_tick_failed")
            wait = MAX_SLEEP if next_due is None else next_due - self.clock()
            self._wake.wait(min(max(wait, 0.0), MAX_SLEEP))
            self._wake.clear()

    def _run_one(self, journey: Journey) -> None:
        try:
            self._run_journey(journey)
        except Exception:  # the runner reports failures as results; this is a bug
            log.exception("synthetic_run_crashed", journey=journey.name)
        finally:
            with self._lock:
                self.schedule.finished(journey.name)
            self._wake.set()
