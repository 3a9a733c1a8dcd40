"""The ``world`` fixture: see tests/privacy/world.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from leadwatch.runtime import Runtime
from leadwatch.settings import Settings
from tests.privacy.world import World, build_world, runtime_settings


@pytest.fixture
def world(backend: str, settings_for: Callable[..., Settings]) -> Iterator[World]:
    # A Runtime not started: no outbox worker races the test for the messages.
    with Runtime(runtime_settings(settings_for, backend, lead_retention_days=30)) as runtime:
        yield build_world(runtime)
