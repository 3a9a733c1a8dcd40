"""Fixtures for the UI: an event store on each backend, and an app whose /ui/ guard
admits a test user (the login flow itself is tested in test_login.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.dashboards import guard
from leadwatch.security.sessions import CurrentUser
from leadwatch.settings import Settings

TESTER = CurrentUser(id=1, username="tester", role="admin", session_id="s", csrf_token="c")


def as_tester(app: FastAPI) -> FastAPI:
    """The app, with every /ui/ request counting as the logged-in ``tester``."""

    async def tester() -> CurrentUser:
        return TESTER

    app.dependency_overrides[guard.ui_user] = tester
    return app


@pytest.fixture
def ui(settings: Settings) -> Iterator[TestClient]:
    with TestClient(as_tester(create_app(settings))) as client:
        yield client
