"""leadwatch as a real process: graceful shutdown keeps every acknowledged event,
PostgreSQL mode puts both stores in the database, and Prometheus scrapes it."""

from __future__ import annotations

import shutil
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from leadwatch.settings import Settings, load_settings
from leadwatch.store.events import open_event_store
from leadwatch.store.records import RecordStore
from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.servers import LeadwatchProcess, PrometheusServer, missing


@pytest.fixture
def process_env(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {
        "LEADWATCH_DATA_DIR": str(tmp_path / "data"),
        "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN,
        "LEADWATCH_LOGGING__LEVEL": "warning",
    }
    if backend == "postgres":
        env["LEADWATCH_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return env


def stored_settings(env: dict[str, str]) -> Settings:
    return load_settings(storage={"data_dir": env["LEADWATCH_DATA_DIR"], "database_url": env.get("LEADWATCH_DATABASE_URL")})


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[Callable[..., LeadwatchProcess]]:
    started: list[LeadwatchProcess] = []

    def start(env: dict[str, str]) -> LeadwatchProcess:
        server = LeadwatchProcess(env, tmp_path / "server.log").start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def test_sigterm_during_a_burst_keeps_every_acknowledged_event(
    process_env: dict[str, str], start_server: Callable[..., LeadwatchProcess]
) -> None:
    # A flush interval longer than the test: every acknowledged event is still in
    # the buffer when SIGTERM arrives, so only the shutdown flush can save it.
    # Four threads at full speed from one address are a flood to the security guard,
    # whose 429s would cut the burst short; this test is about the write buffer.
    env = {**process_env, "LEADWATCH_SECURITY__ENABLED": "false",
           "LEADWATCH_STORAGE__FLUSH_INTERVAL_SECONDS": "60",
           "LEADWATCH_STORAGE__FLUSH_BATCH_SIZE": "1000000", "LEADWATCH_STORAGE__BUFFER_MAX_EVENTS": "2000000"}
    server = start_server(env)
    acknowledged: list[str] = []
    enough = threading.Event()
    problems: list[str] = []

    def send(worker: int) -> None:
        with httpx.Client(base_url=server.url, headers=ADMIN, timeout=30) as client:
            for n in range(2000):
                names = [f"{worker}-{n}-{i}" for i in range(50)]
                batch = [{"site_id": "default", "type": "burst", "name": name} for name in names]
                try:
                    response = client.post("/api/v1/events", json=batch)
                except httpx.TransportError:
                    return  # the server has stopped listening
                if response.status_code == 202:
                    acknowledged.extend(names)
                    if len(acknowledged) >= 5000:
                        enough.set()
                elif response.status_code != 503:  # 503: shutting down, not acknowledged
                    problems.append(f"{response.status_code}: {response.text}")
                    return

    senders = [threading.Thread(target=send, args=(w,)) for w in range(4)]
    for t in senders:
        t.start()
    assert enough.wait(60), server.log()
    server.signal(signal.SIGTERM)
    for t in senders:
        t.join(60)
    # uvicorn re-raises the signal after its graceful shutdown, as a signalled process should.
    assert server.wait(60) in (0, -signal.SIGTERM), server.log()
    assert not problems

    store = open_event_store(stored_settings(env))
    stored = [r["name"] for r in store.query("SELECT name FROM events WHERE type = 'burst'")]
    store.close()
    assert len(stored) == len(set(stored)), "an event was stored twice"
    lost = set(acknowledged) - set(stored)
    assert not lost, f"{len(lost)} of {len(acknowledged)} acknowledged events were lost"


@pytest.mark.postgres
def test_a_database_url_puts_both_stores_in_postgresql(
    pg_url: str, tmp_path: Path, start_server: Callable[..., LeadwatchProcess]
) -> None:
    env = {"LEADWATCH_DATA_DIR": str(tmp_path / "data"), "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN,
           "LEADWATCH_DATABASE_URL": pg_url, "LEADWATCH_STORAGE__FLUSH_INTERVAL_SECONDS": "0.2"}
    server = start_server(env)
    response = httpx.post(f"{server.url}/api/v1/events", headers=ADMIN,
                          json=[{"site_id": "default", "type": "pageview"}] * 3)
    assert response.status_code == 202
    server.stop()

    settings = stored_settings(env)
    records = RecordStore.open(settings)
    events = open_event_store(settings, records.engine)
    assert records.backend == "postgresql" and events.dialect.name == "postgresql"
    assert events.count(type="pageview") == 3
    records.close()
    assert not (tmp_path / "data" / "events.duckdb").exists()
    assert not (tmp_path / "data" / "leadwatch.sqlite3").exists()


def test_prometheus_scrapes_leadwatch(tmp_path: Path, start_server: Callable[..., LeadwatchProcess]) -> None:
    binary = shutil.which("prometheus")
    if binary is None:
        missing("prometheus not installed (apt-get install prometheus)")
    server = start_server({"LEADWATCH_DATA_DIR": str(tmp_path / "data"), "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN})
    prometheus = PrometheusServer(binary, tmp_path / "prometheus", [f"127.0.0.1:{server.port}"]).start()
    try:
        up = prometheus.wait_for('up{job="leadwatch"} == 1')
        assert up[0]["value"][1] == "1"  # type: ignore[index]
        scrapes = prometheus.wait_for('leadwatch_http_requests_total{route="/metrics",status="200"} > 0')
        assert scrapes
        assert prometheus.wait_for('histogram_quantile(0.95, rate(leadwatch_http_request_duration_seconds_bucket[1m])) >= 0')
    finally:
        prometheus.stop()
