"""Attribution models: how much of a lead each touch of its journey earns.

Five models over the touches within the lookback window before the lead (oldest
first); every model's credits for one lead sum to 1:

- ``first_touch``: all to the first touch;
- ``last_non_direct``: all to the last touch that is not Direct (Direct only when
  every touch is Direct);
- ``linear``: equal shares;
- ``position_based``: 40% first, 40% last, 20% shared by the touches between
  (50/50 with two touches);
- ``time_decay``: a touch's weight halves every ``half_life`` before the lead.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from leadwatch.marketing.channels import DIRECT
from leadwatch.marketing.touch import Touch

HALF_LIFE = timedelta(days=7)

Credits = list[float]


def first_touch(touches: Sequence[Touch], at: datetime) -> Credits:
    return [1.0] + [0.0] * (len(touches) - 1)


def last_non_direct(touches: Sequence[Touch], at: datetime) -> Credits:
    credits = [0.0] * len(touches)
    chosen = next(
        (i for i in range(len(touches) - 1, -1, -1) if touches[i].channel != DIRECT),
        len(touches) - 1,
    )
    credits[chosen] = 1.0
    return credits


def linear(touches: Sequence[Touch], at: datetime) -> Credits:
    return [1.0 / len(touches)] * len(touches)


def position_based(touches: Sequence[Touch], at: datetime) -> Credits:
    n = len(touches)
    if n == 1:
        return [1.0]
    if n == 2:
        return [0.5, 0.5]
    return [0.4] + [0.2 / (n - 2)] * (n - 2) + [0.4]


def time_decay(touches: Sequence[Touch], at: datetime, half_life: timedelta = HALF_LIFE) -> Credits:
    ages = [max((at - t.ts).total_seconds(), 0.0) for t in touches]
    # Relative to the youngest touch, so very old journeys do not underflow to zero.
    youngest = min(ages)
    weights = [0.5 ** ((age - youngest) / half_life.total_seconds()) for age in ages]
    total = sum(weights)
    return [w / total for w in weights]


MODELS: dict[str, Callable[[Sequence[Touch], datetime], Credits]] = {
    "first_touch": first_touch,
    "last_non_direct": last_non_direct,
    "linear": linear,
    "position_based": position_based,
    "time_decay": time_decay,
}


def within_lookback(touches: Sequence[Touch], at: datetime, lookback: timedelta) -> list[Touch]:
    """The touches from ``at - lookback`` up to ``at``, oldest first."""
    return [t for t in touches if at - lookback <= t.ts <= at]
