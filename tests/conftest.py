"""Shared fixtures: settings on a temp data dir, both storage backends, an in-process
client, and a throwaway real PostgreSQL for the whole session."""

from __future__ import annotations

import os
import pwd
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.settings import Settings, load_settings
from leadwatch.store.events import EventStore, open_event_store
from leadwatch.store.records import create_records_engine
from tests.servers import PostgresServer, missing, postgres_bindir

ADMIN_TOKEN = "test-admin-token-0123456789"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
BACKENDS = ["embedded", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The developer's own LEADWATCH_* variables must not leak into tests."""
    for name in list(os.environ):
        if name.startswith("LEADWATCH_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    bindir = postgres_bindir()
    if bindir is None:
        missing("PostgreSQL server not installed (apt-get install postgresql)")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            missing("running as root needs the postgres user (apt-get install postgresql)")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(postgres_server: PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database()
    yield url
    postgres_server.drop_database(url)


@pytest.fixture
def settings_for(tmp_path: Any, request: pytest.FixtureRequest) -> Callable[..., Settings]:
    """``settings_for(backend, **sections)``: settings on a fresh data dir (and, for
    ``postgres``, a fresh database), with the test admin token."""

    def make(backend: str = "embedded", **sections: Any) -> Settings:
        storage = {"data_dir": tmp_path / "data", **sections.pop("storage", {})}
        if backend == "postgres":
            storage["database_url"] = request.getfixturevalue("pg_url")
        auth = {"admin_token": ADMIN_TOKEN, **sections.pop("auth", {})}
        # The journey scheduler would probe 127.0.0.1:8000 from every test app;
        # tests that are about scheduling switch it on.
        synthetic = {"enabled": False, **sections.pop("synthetic", {})}
        return load_settings(None, storage=storage, auth=auth, synthetic=synthetic, **sections)

    return make


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, settings_for: Callable[..., Settings]) -> Settings:
    return settings_for(backend)


@pytest.fixture
def store(settings: Settings) -> Iterator[EventStore]:
    """A migrated event store on the parametrised backend (embedded and PostgreSQL)."""
    engine = create_records_engine(settings)
    events = open_event_store(settings, engine)
    events.migrate()
    yield events
    events.close()
    engine.dispose()


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client
