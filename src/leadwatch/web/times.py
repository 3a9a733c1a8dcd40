"""Times in request bodies.

A body's datetime may carry any offset, or none (then it is UTC). Moved to UTC, a
value near the calendar's edge (``0001-01-01T00:00+05:00``) leaves what ``datetime``
can hold, and a route adding a duration or a default window to one near year 9999
overflows: both were 500s. ``RequestTime`` answers them as a 422 naming the field,
by keeping times to the years 1970 to 9998, which no event, run or silence leaves.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator

from leadwatch.store.schema import utc_aware

FIRST_YEAR, LAST_YEAR = 1970, 9998


def _in_utc(value: datetime) -> datetime:
    try:
        value = utc_aware(value)
    except OverflowError:
        raise ValueError("out of range once moved to UTC") from None
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ValueError(f"must be in the years {FIRST_YEAR} to {LAST_YEAR} (UTC)")
    return value


RequestTime = Annotated[datetime, AfterValidator(_in_utc)]
"""A time in a request body: aware, in UTC (without an offset it is UTC)."""
