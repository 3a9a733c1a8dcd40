"""Fixtures shared by the alerting tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.alerting.receiver import LocalReceiver


@pytest.fixture
def receiver() -> Iterator[LocalReceiver]:
    """A local PagerDuty/Slack/webhook peer, closed after the test."""
    r = LocalReceiver()
    yield r
    r.close()
