"""Consecutive-failure thresholds: states and severities change at exactly the counts."""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from leadwatch.synthetic.journey import Thresholds
from leadwatch.synthetic.state import State, StateTracker

T0 = datetime(2026, 11, 1)


def feed(thresholds: Thresholds, outcomes: list[bool]) -> tuple[StateTracker, list]:  # type: ignore[type-arg]
    tracker = StateTracker({"j": thresholds})
    changes = []
    for i, ok in enumerate(outcomes):
        change = tracker.record("j", "us-east", ok, T0 + timedelta(seconds=30 * i), None if ok else "boom")
        changes.append(change)
    return tracker, changes


@given(st.integers(1, 8), st.integers(1, 8), st.integers(0, 20))
def test_severity_fires_at_exactly_the_configured_count(warning: int, critical: int, failures: int) -> None:
    tracker, changes = feed(Thresholds(warning=warning, critical=critical), [True] + [False] * failures)
    status = tracker.status("j", "us-east")
    assert status is not None and status.failures == failures
    expected = "critical" if failures >= critical else "warning" if failures >= warning else None
    assert status.severity == expected
    assert status.state is (State.DOWN if expected else State.PENDING if failures else State.UP)
    # The failure that reaches a threshold reports the change (a warning count at or
    # above the critical one changes nothing: the journey is critical already).
    for count in {warning, critical}:
        if count <= failures and count <= critical:
            assert changes[count] is not None and changes[count].current.failures == count


def test_the_brief_contact_form_thresholds() -> None:
    # warning at 2 consecutive failures, critical at the first one.
    _, changes = feed(Thresholds(warning=2, critical=1), [True, False, False, True, True])
    assert [c.current.state.value if c else None for c in changes] == ["up", "down", None, "recovered", "up"]
    assert changes[1] is not None and changes[1].current.severity == "critical"


def test_pending_until_the_warning_count_then_down_then_recovered() -> None:
    _, changes = feed(Thresholds(warning=2, critical=3), [True, False, False, False, True, True, False])
    states = [(c.current.state.value, c.current.severity) if c else None for c in changes]
    assert states == [("up", None), ("pending", None), ("down", "warning"), ("down", "critical"),
                      ("recovered", None), ("up", None), ("pending", None)]


def test_a_success_while_pending_goes_straight_back_up() -> None:
    _, changes = feed(Thresholds(warning=3, critical=5), [True, False, True])
    assert [c.current.state.value if c else None for c in changes] == ["up", "pending", "up"]


def test_locations_are_tracked_separately() -> None:
    tracker = StateTracker({"j": Thresholds(warning=1, critical=1)})
    tracker.record("j", "us-east", True, T0)
    tracker.record("j", "europe", False, T0)
    states = {loc: s.state for loc, s in tracker.of_journey("j").items()}
    assert states == {"us-east": State.UP, "europe": State.DOWN}
