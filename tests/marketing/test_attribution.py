"""Attribution models against hand-computed examples; credits sum to 1 (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.marketing.attribution import MODELS, time_decay, within_lookback
from leadwatch.marketing.channels import CHANNELS
from leadwatch.marketing.touch import Touch

LEAD = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def journey(*steps: tuple[str, float]) -> list[Touch]:
    """(channel, days before the lead) per touch, oldest first."""
    return [Touch(LEAD - timedelta(days=d), c) for c, d in steps]


FOUR = journey(("Organic Search", 21), ("Email", 14), ("Paid Social", 7), ("Direct", 0))


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("first_touch", [1, 0, 0, 0]),
        ("last_non_direct", [0, 0, 1, 0]),
        ("linear", [0.25, 0.25, 0.25, 0.25]),
        ("position_based", [0.4, 0.1, 0.1, 0.4]),
        # Weights 1/8, 1/4, 1/2, 1 (7-day half-life) over their sum 15/8.
        ("time_decay", [1 / 15, 2 / 15, 4 / 15, 8 / 15]),
    ],
)
def test_hand_computed_four_touch_journey(model: str, expected: list[float]) -> None:
    assert MODELS[model](FOUR, LEAD) == pytest.approx(expected)


def test_short_journeys() -> None:
    one = journey(("Referral", 3))
    two = journey(("Email", 3), ("Paid Search", 1))
    for model in MODELS.values():
        assert model(one, LEAD) == [1.0]
    assert MODELS["position_based"](two, LEAD) == [0.5, 0.5]
    assert MODELS["last_non_direct"](journey(("Direct", 2), ("Direct", 1)), LEAD) == [0, 1]


def test_time_decay_half_life() -> None:
    credits = time_decay(journey(("Email", 7), ("Display", 0)), LEAD)
    assert credits == pytest.approx([1 / 3, 2 / 3])


def test_lookback_window() -> None:
    old = journey(("Display", 120), ("Email", 30), ("Direct", 1))
    kept = within_lookback(old, LEAD, timedelta(days=90))
    assert [t.channel for t in kept] == ["Email", "Direct"]


@given(
    st.lists(
        st.tuples(st.sampled_from(CHANNELS), st.floats(0, 3650, allow_nan=False)),
        min_size=1,
        max_size=10,
    ).map(lambda steps: sorted(steps, key=lambda s: -s[1]))
)
def test_credits_sum_to_one_for_every_model(steps: list[tuple[str, float]]) -> None:
    touches = journey(*steps)
    for name, model in MODELS.items():
        credits = model(touches, LEAD)
        assert len(credits) == len(touches)
        assert sum(credits) == pytest.approx(1.0), name
        assert all(c >= 0 for c in credits)
