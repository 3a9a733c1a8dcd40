"""Remote probes as users run them: two `leadwatch probe` processes at different
locations report to one `leadwatch serve`; stopping one marks its location down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.servers import LeadwatchProcess
from tests.synthetic.sites import wait_until

DEAD_AFTER = 6


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LeadwatchProcess]:
    env = {
        "LEADWATCH_DATA_DIR": str(tmp_path / "server"),
        "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN,
        "LEADWATCH_LOGGING__LEVEL": "warning",
        "LEADWATCH_SYNTHETIC__DEAD_AFTER_SECONDS": str(DEAD_AFTER),
    }
    process = LeadwatchProcess(env, tmp_path / "server.log").start()
    yield process
    process.stop()


def ingest_token(data_dir: Path) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "leadwatch", "token", "create", "probes", "--scope", "ingest"],
        env={**os.environ, "LEADWATCH_DATA_DIR": str(data_dir)},
        capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    return out.strip().rsplit(": ", 1)[1]


def start_probe(url: str, token: str, location: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"probe-{location}.log").open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "leadwatch", "probe", "--server", url, "--token", token,
         "--location", location, "--refresh", "0.5"],
        env={**os.environ, "LEADWATCH_DATA_DIR": str(tmp_path / f"probe-{location}"),
             "LEADWATCH_LOGGING__LEVEL": "warning"},
        stdout=log, stderr=subprocess.STDOUT,
    )


def test_two_probes_report_and_a_stopped_one_is_marked_down(server: LeadwatchProcess, tmp_path: Path) -> None:
    token = ingest_token(tmp_path / "server")
    probes = {loc: start_probe(server.url, token, loc, tmp_path) for loc in ("us-west", "europe")}
    try:
        def statuses() -> dict[str, str]:
            body = httpx.get(f"{server.url}/api/v1/synthetic/locations", headers=ADMIN, timeout=10).json()
            return {loc["location"]: loc["status"] for loc in body["locations"]}

        def runs_from(location: str) -> list[dict[str, Any]]:
            return list(httpx.get(f"{server.url}/api/v1/synthetic/runs", headers=ADMIN, timeout=10,
                                  params={"location": location, "journey": "api-health"}).json()["runs"])

        wait_until(lambda: all(statuses()[loc] == "up" for loc in probes), what="both probes up")
        for location in probes:
            run = wait_until(lambda loc=location: runs_from(loc), what=f"a run from {location}")[0]
            assert run["success"], run
            assert [s["name"] for s in run["steps"]] == ["health", "ready", "metrics"]
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert 'leadwatch_probe_success{journey="api-health",location="europe"} 1.0' in metrics

        probes["us-west"].send_signal(signal.SIGTERM)
        assert probes["us-west"].wait(60) == 0
        wait_until(lambda: statuses() == {"us-east": "up", "us-west": "down", "europe": "up"},
                   what="us-west down while europe stays up")
    finally:
        for process in probes.values():
            if process.poll() is None:
                process.terminate()
                process.wait(60)
