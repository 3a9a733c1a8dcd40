"""``leadwatch logs …`` as a user runs it, the server's own tailing, and shipping to
a running server."""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadwatch.app import create_app
from leadwatch.cli import app
from leadwatch.logs.ship import HttpShipper, ShipError
from leadwatch.settings import Settings
from leadwatch.store.schema import LOGS
from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.logs.conftest import REAL_LOG

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEADWATCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_ingest_gzip_and_stdin_then_search(data_dir: Path, tmp_path: Path) -> None:
    packed = tmp_path / "access.log.gz"
    packed.write_bytes(gzip.compress(REAL_LOG.read_bytes()))
    result = runner.invoke(app, ["logs", "ingest", str(packed)])
    assert result.exit_code == 0, result.output
    assert "ingested 10,000 lines" in result.output and "security 43" in result.output
    result = runner.invoke(app, ["logs", "ingest", "-", "--site", "default"], input="junk\n")
    assert result.exit_code == 0 and "dead-letter 1" in result.output
    result = runner.invoke(app, ["logs", "search", "status>=500", "--dataset", "access", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["total"] == 3 and {r["status"] for r in data["records"]} == {500}
    result = runner.invoke(app, ["logs", "search", "path:/wp-login*"])
    assert result.exit_code == 0 and "/wp-login.php" in result.output


def test_ingest_refuses_what_it_cannot_do(data_dir: Path) -> None:
    assert runner.invoke(app, ["logs", "ingest", "/no/such/file"]).exit_code == 2
    assert runner.invoke(app, ["logs", "ingest", "-", "--follow"]).exit_code == 2
    assert runner.invoke(app, ["logs", "ingest", str(REAL_LOG), "--site", "nowhere"]).exit_code == 2
    assert runner.invoke(app, ["logs", "ingest", str(REAL_LOG), "--format", "xml"]).exit_code == 2
    assert runner.invoke(app, ["logs", "ingest", str(REAL_LOG), "--server", "http://127.0.0.1:1"]).exit_code == 2
    result = runner.invoke(app, ["logs", "search", "colour:red"])
    assert result.exit_code == 2 and "unknown field" in result.output


def test_export_templates(data_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "es"
    result = runner.invoke(app, ["logs", "export-templates", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "template-reboot-access.json").is_file() and (out / "ilm-reboot-access-policy.json").is_file()


def test_the_server_tails_configured_sources(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    log = tmp_path / "nginx" / "access.log"
    log.parent.mkdir()
    lines = REAL_LOG.read_text().splitlines()
    log.write_text("\n".join(lines[:300]) + "\n")
    settings = settings_for(
        "embedded",
        # The 2015 log would be past its retention: the purge job runs at start-up.
        logs={"sources": [{"path": str(log)}], "poll_interval_seconds": 0.05,
              "retention_days": {"access": 36_500, "security": 36_500}},
    )
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        with log.open("a") as fh:
            fh.write("\n".join(lines[300:500]) + "\n")
        deadline = time.monotonic() + 60
        while runtime.events.count(LOGS, dataset="access") < 500 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert runtime.events.count(LOGS, dataset="access") == 500
    # Restarted, the server resumes where it stopped: nothing read twice.
    with log.open("a") as fh:
        fh.write("\n".join(lines[500:600]) + "\n")
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while runtime.events.count(LOGS, dataset="access") < 600 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # a repeat would show as more than 600
        assert runtime.events.count(LOGS, dataset="access") == 600


def test_unknown_site_in_sources_stops_start_up(settings_for: Callable[..., Settings], tmp_path: Path) -> None:
    from leadwatch.settings import ConfigError

    settings = settings_for("embedded", logs={"sources": [{"path": str(tmp_path / "x.log"), "site": "nope"}]})
    with pytest.raises(ConfigError, match=r"logs.sources\[0\].site"):
        with TestClient(create_app(settings)):
            pass


def through(client: TestClient) -> httpx.MockTransport:
    """httpx requests answered by the in-process app."""

    def handle(request: httpx.Request) -> httpx.Response:
        answer = client.request(request.method, str(request.url), content=request.content,
                                headers=dict(request.headers))
        return httpx.Response(answer.status_code, content=answer.content, headers=dict(answer.headers))

    return httpx.MockTransport(handle)


def test_shipping_to_a_running_server(client: TestClient) -> None:
    shipper = HttpShipper("http://testserver", ADMIN_TOKEN, transport=through(client))
    lines = REAL_LOG.read_text().splitlines()[:3000]  # more than one 512 KiB body
    result = shipper.process(lines, site_id="default", fmt="combined")
    assert result.lines == 3000 and result.datasets["access"] == 3000
    with pytest.raises(ShipError):
        HttpShipper("http://testserver", "wrong-token-000000", transport=through(client)).process(
            lines[:1], site_id="default"
        )
    assert client.get("/api/v1/logs", headers=ADMIN).status_code == 200
