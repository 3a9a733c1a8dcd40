"""The schedule: period, jitter, no overlapping runs of a journey; and the threaded loop."""

from __future__ import annotations

import random
import threading
import time

from hypothesis import given
from hypothesis import strategies as st

from leadwatch.synthetic.journey import Journey, parse_journeys
from leadwatch.synthetic.scheduler import Schedule, Scheduler


def journeys(*freqs: float) -> list[Journey]:
    return parse_journeys([{"name": f"j{i}", "frequency": f, "steps": [{"name": "s", "dns": {"name": "x"}}]}
                           for i, f in enumerate(freqs)], "test")


@given(st.floats(0, 0.5), st.integers(0, 2**32))
def test_runs_start_once_per_period_within_the_jitter(jitter: float, seed: int) -> None:
    (j,) = journeys(30)
    schedule = Schedule([j], now=0.0, jitter=jitter, rng=random.Random(seed))
    starts = []
    t = 0.0
    while t < 30 * 20:
        started, skipped = schedule.due(t)
        assert not skipped
        for s in started:
            starts.append(t)
            schedule.finished(s.name)
        t += 0.25
    assert len(starts) in (20, 21)
    for n, at in enumerate(starts):
        assert 30 * n <= at <= 30 * n + jitter * 30 + 0.25


def test_a_journey_still_running_skips_its_slot_and_never_overlaps() -> None:
    (j,) = journeys(10)
    schedule = Schedule([j], now=0.0, jitter=0.0)
    assert [x.name for x in schedule.due(0.0)[0]] == ["j0"]
    assert schedule.due(10.0) == ([], ["j0"])  # still running: skipped, not started twice
    assert schedule.due(15.0) == ([], [])
    schedule.finished("j0")
    assert schedule.due(19.9) == ([], [])
    assert [x.name for x in schedule.due(20.0)[0]] == ["j0"]


def test_missed_slots_are_not_made_up() -> None:
    (j,) = journeys(10)
    schedule = Schedule([j], now=0.0, jitter=0.0)
    schedule.due(0.0)
    schedule.finished("j0")
    assert len(schedule.due(55.0)[0]) == 1  # one run, not five
    schedule.finished("j0")
    assert schedule.due(59.0) == ([], []) and len(schedule.due(60.0)[0]) == 1


def test_replace_keeps_the_slots_of_unchanged_journeys() -> None:
    a, b = journeys(10, 20)
    schedule = Schedule([a], now=0.0, jitter=0.0)
    schedule.due(0.0)
    schedule.finished("j0")
    schedule.replace([a, b], now=5.0)
    assert [x.name for x in schedule.due(5.0)[0]] == ["j1"]
    assert schedule.next_due() == 10.0


def test_the_scheduler_runs_journeys_in_its_pool_and_stops_cleanly() -> None:
    seen: list[str] = []
    both = threading.Event()

    def run(journey: Journey) -> None:
        seen.append(journey.name)
        if {"j0", "j1"} <= set(seen):
            both.set()

    scheduler = Scheduler(journeys(3600, 3600), run, workers=2, jitter=0.0)
    scheduler.start()
    try:
        assert both.wait(60)
    finally:
        scheduler.close()
    assert sorted(seen) == ["j0", "j1"]  # once each: the next slot is an hour away


def test_close_waits_for_a_run_in_progress() -> None:
    started, finished = threading.Event(), threading.Event()

    def run(journey: Journey) -> None:
        started.set()
        time.sleep(0.2)
        finished.set()

    scheduler = Scheduler(journeys(3600), run, jitter=0.0)
    scheduler.start()
    assert started.wait(60)
    scheduler.close()
    assert finished.is_set()
