"""Journey state per location from its consecutive failures.

- ``up``: the latest run succeeded (and the one before it too, or it never was down);
- ``pending``: failing, fewer times in a row than either threshold;
- ``down``: failing at least ``warning`` or ``critical`` times in a row; the severity
  is ``critical`` from the critical count on, else ``warning``;
- ``recovered``: the first success after ``down`` (the next success makes it ``up``).

Each change of state or severity is a :class:`Transition`, which the monitor records
and the metrics expose. The tracker holds no clock and no I/O: tests drive it directly.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from leadwatch.synthetic.journey import Thresholds


class State(StrEnum):
    UP = "up"
    PENDING = "pending"
    DOWN = "down"
    RECOVERED = "recovered"


# Worst first: the journey's overall state is the worst of its locations'.
SEVERITY_ORDER = (State.DOWN, State.PENDING, State.RECOVERED, State.UP)


@dataclass(frozen=True)
class Status:
    state: State
    failures: int  # consecutive
    severity: str | None  # None, "warning" or "critical"
    since: datetime  # when this state (and severity) began
    last_run: datetime
    last_error: str | None = None


@dataclass(frozen=True)
class Transition:
    journey: str
    location: str
    previous: Status | None
    current: Status


def next_status(previous: Status | None, success: bool, thresholds: Thresholds,
                at: datetime, error: str | None = None) -> Status:
    if success:
        was_down = previous is not None and previous.state is State.DOWN
        state, failures, severity = (State.RECOVERED if was_down else State.UP), 0, None
    else:
        failures = (previous.failures if previous else 0) + 1
        severity = (
            "critical" if failures >= thresholds.critical
            else "warning" if failures >= thresholds.warning
            else None
        )
        state = State.DOWN if severity else State.PENDING
    if previous is not None and (previous.state, previous.severity) == (state, severity):
        return replace(previous, failures=failures, last_run=at, last_error=error)
    return Status(state, failures, severity, since=at, last_run=at, last_error=error)


def worst(states: list[State]) -> State | None:
    return min(states, key=SEVERITY_ORDER.index) if states else None


class StateTracker:
    """The current :class:`Status` of every (journey, location); thread-safe."""

    def __init__(self, thresholds: dict[str, Thresholds]):
        self.thresholds = thresholds
        self._status: dict[tuple[str, str], Status] = {}
        self._lock = threading.Lock()

    def record(self, journey: str, location: str, success: bool, at: datetime,
               error: str | None = None) -> Transition | None:
        """Fold in one run's outcome; the transition when state or severity changed."""
        key = (journey, location)
        with self._lock:
            previous = self._status.get(key)
            current = next_status(previous, success, self.thresholds[journey], at, error)
            self._status[key] = current
        if previous is None or (previous.state, previous.severity) != (
            current.state, current.severity
        ):
            return Transition(journey, location, previous, current)
        return None

    def status(self, journey: str, location: str) -> Status | None:
        with self._lock:
            return self._status.get((journey, location))

    def of_journey(self, journey: str) -> dict[str, Status]:
        with self._lock:
            return {loc: s for (j, loc), s in self._status.items() if j == journey}
