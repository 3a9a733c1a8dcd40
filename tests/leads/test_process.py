"""A real server killed with SIGKILL in the middle of 1,000 concurrent submissions:
every submission that got a 201 is stored, exactly once, and retrying the others
with their Idempotency-Key after a restart stores each of them exactly once too."""

from __future__ import annotations

import signal
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from leadwatch.leads.models import Lead
from leadwatch.settings import load_settings
from leadwatch.store.records import RecordStore
from tests.conftest import ADMIN_TOKEN
from tests.servers import LeadwatchProcess

SUBMISSIONS = 1000


@pytest.fixture
def env(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    env = {
        "LEADWATCH_DATA_DIR": str(tmp_path / "data"),
        "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN,
        "LEADWATCH_LOGGING__LEVEL": "warning",
        # One client sends everything: lift the per-address limits of both layers.
        "LEADWATCH_LEADS__RATE_LIMIT_PER_IP": "1000000",
        "LEADWATCH_SECURITY__ENABLED": "false",
    }
    if backend == "postgres":
        env["LEADWATCH_DATABASE_URL"] = request.getfixturevalue("pg_url")
    return env


def submit(client: httpx.Client, n: int) -> tuple[int, int | None]:
    lead = {"name": f"Load {n}", "email": f"load{n}@example.com", "message": "kill -9 test"}
    try:
        response = client.post("/api/leads", json=lead, headers={"Idempotency-Key": f"k-{n}"})
    except httpx.TransportError:
        return n, None
    return n, response.json()["id"] if response.status_code == 201 else None


def test_kill_9_mid_burst_loses_and_duplicates_nothing(env: dict[str, str], tmp_path: Path) -> None:
    server = LeadwatchProcess(env, tmp_path / "server.log").start()
    acknowledged: dict[int, int] = {}
    enough = threading.Event()
    lock = threading.Lock()
    try:
        with httpx.Client(base_url=server.url, timeout=60,
                          limits=httpx.Limits(max_connections=32)) as client:

            def one(n: int) -> None:
                number, lead_id = submit(client, n)
                if lead_id is not None:
                    with lock:
                        acknowledged[number] = lead_id
                        if len(acknowledged) >= 150:
                            enough.set()

            with ThreadPoolExecutor(max_workers=32) as pool:
                futures = [pool.submit(one, n) for n in range(SUBMISSIONS)]
                assert enough.wait(180), server.log()
                server.signal(signal.SIGKILL)
                for f in futures:
                    f.result(timeout=180)
        server.wait(60)
        assert 150 <= len(acknowledged) < SUBMISSIONS, "the kill came too late to test anything"

        server = LeadwatchProcess(env, tmp_path / "server2.log", port=server.port).start()
        with httpx.Client(base_url=server.url, timeout=60) as client:
            retried = {n: submit(client, n)[1] for n in range(SUBMISSIONS)}
        # A retry of an acknowledged submission answers with the first lead's id.
        assert all(retried[n] == lead_id for n, lead_id in acknowledged.items())
        assert all(lead_id is not None for lead_id in retried.values())
    finally:
        server.stop()

    settings = load_settings(storage={"data_dir": env["LEADWATCH_DATA_DIR"],
                                      "database_url": env.get("LEADWATCH_DATABASE_URL")})
    records = RecordStore.open(settings)
    with records.session() as session:
        keys = Counter(session.scalars(select(Lead.idempotency_key)))
        stored = {row.idempotency_key: row.id for row in session.execute(select(Lead.idempotency_key, Lead.id))}
    records.close()
    assert all(count == 1 for count in keys.values()), "a submission was stored twice"
    assert len(keys) == SUBMISSIONS
    assert all(stored[f"k-{n}"] == lead_id for n, lead_id in acknowledged.items())
