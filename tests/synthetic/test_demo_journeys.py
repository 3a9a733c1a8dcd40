"""The four built-in journeys, run as `leadwatch synthetic run --demo` against a real
`leadwatch serve` with the demo site: what `make run` shows must pass its own checks."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.servers import LeadwatchProcess, missing

JOURNEYS = ["api-health", "seo-landing-pages", "contact-form", "core-web-vitals"]
BROWSER_JOURNEYS = {"contact-form", "core-web-vitals"}


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeadwatchProcess]:
    workdir = tmp_path_factory.mktemp("demo-journeys")
    env = {
        "LEADWATCH_DATA_DIR": str(workdir / "data"),
        "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN,
        "LEADWATCH_LOGGING__LEVEL": "warning",
        "LEADWATCH_DEMO__ENABLED": "true",
        "LEADWATCH_DEMO__BACKFILL_DAYS": "0",
        # The journeys run from the test, not from the server's own scheduler.
        "LEADWATCH_SYNTHETIC__ENABLED": "false",
    }
    server = LeadwatchProcess(env, workdir / "server.log").start()
    yield server
    server.stop()


@pytest.mark.parametrize("journey", JOURNEYS)
def test_each_built_in_journey_passes_on_the_demo_site(demo_server: LeadwatchProcess, journey: str) -> None:
    if journey in BROWSER_JOURNEYS and not Path("/usr/bin/chromium").exists():
        missing("Chromium not installed (apt-get install chromium)")
    env = {**demo_server.env, "LEADWATCH_PORT": str(demo_server.port)}
    env.pop("LEADWATCH_DEMO__ENABLED")  # --demo below must be enough
    result = subprocess.run(
        [sys.executable, "-m", "leadwatch", "synthetic", "run", journey, "--demo"],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=180, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr + demo_server.log()
    assert f"{journey} passed" in result.stdout
