"""Bans: expiry, the admin API, nginx export, the CLI, and a second replica honouring
a ban made by the first (two apps on one PostgreSQL database)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadwatch.app import create_app
from leadwatch.cli import app as leadwatch_cli
from leadwatch.security.bans import active_bans, add_ban, nginx_deny
from leadwatch.settings import Settings
from leadwatch.store.models import now
from tests.conftest import ADMIN

ATTACKER = ("203.0.113.99", 1)


def poll(condition: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_bans_expire(settings: Settings) -> None:
    with TestClient(create_app(settings), client=ATTACKER) as client:
        bans = client.app.state.runtime.guard.bans  # type: ignore[attr-defined]
        bans.ban(ATTACKER[0], seconds=3600, reason="test", threat=None)
        assert client.get("/health").status_code == 403
        assert bans.banned(ATTACKER[0]) is not None
        with bans.records.session() as session:  # time passes: the ban ends
            from leadwatch.security.models import IpBan

            for row in session.query(IpBan):
                row.expires_at = now() - timedelta(seconds=1)
        bans.reload()
        assert client.get("/health").status_code == 200
        assert active_bans(bans.records) == []


def test_networks_and_the_admin_api(client: TestClient) -> None:
    response = client.post("/api/v1/security/bans", headers=ADMIN,
                           json={"address": "198.51.100.0/24", "seconds": 600, "reason": "scanner net"})
    assert response.status_code == 201 and response.json()["network"] == "198.51.100.0/24"
    assert client.get("/api/v1/security/bans", headers=ADMIN).json()[0]["reason"] == "scanner net"
    bans = client.app.state.runtime.guard.bans  # type: ignore[attr-defined]
    assert bans.banned("198.51.100.77") and not bans.banned("198.51.101.1")
    bad = client.post("/api/v1/security/bans", headers=ADMIN, json={"address": "nope"})
    assert bad.status_code == 422 and "body.address" in bad.json()["error"]["fields"]
    assert client.delete("/api/v1/security/bans/198.51.100.0/24", headers=ADMIN).status_code == 204
    assert not bans.banned("198.51.100.77")
    assert client.delete("/api/v1/security/bans/198.51.100.0/24", headers=ADMIN).status_code == 404
    assert client.get("/api/v1/security/bans").status_code == 401


def test_nginx_export_and_cli(settings_for: Callable[..., Settings], tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADWATCH_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    assert runner.invoke(leadwatch_cli, ["security", "bans", "add", "203.0.113.5", "--reason", "manual"]).exit_code == 0
    assert runner.invoke(leadwatch_cli, ["security", "bans", "add", "2001:db8::/48"]).exit_code == 0
    assert runner.invoke(leadwatch_cli, ["security", "bans", "add", "not-an-ip"]).exit_code == 2
    too_wide = runner.invoke(leadwatch_cli, ["security", "bans", "add", "0.0.0.0/0"])
    assert too_wide.exit_code == 2 and "too wide" in too_wide.output
    never = runner.invoke(leadwatch_cli, ["security", "bans", "add", "::1"])  # security.never_ban
    assert never.exit_code == 2 and "never banned" in never.output
    listed = runner.invoke(leadwatch_cli, ["security", "bans", "list"]).output
    assert "203.0.113.5/32" in listed and "manual" in listed
    out = tmp_path / "deny.conf"
    assert runner.invoke(leadwatch_cli, ["security", "export-nginx", "--output", str(out)]).exit_code == 0
    lines = out.read_text().splitlines()
    assert lines[1:] == ["deny 2001:db8::/48;", "deny 203.0.113.5;"]
    assert runner.invoke(leadwatch_cli, ["security", "bans", "remove", "203.0.113.5"]).exit_code == 0
    assert runner.invoke(leadwatch_cli, ["security", "bans", "remove", "203.0.113.5"]).exit_code == 1
    assert "deny 203.0.113.5;" not in runner.invoke(leadwatch_cli, ["security", "export-nginx"]).output
    assert nginx_deny([]).count("deny") == 0


@pytest.mark.postgres
def test_a_ban_holds_in_every_replica(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("postgres", security={"ban_refresh_seconds": 0.2})
    # The analyst bans from the first replica (from another address: no one may ban
    # themselves); the attacker reaches the second.
    with TestClient(create_app(settings), client=("192.0.2.200", 1)) as first, \
            TestClient(create_app(settings), client=ATTACKER) as second:
        assert second.get("/health").status_code == 200
        first.post("/api/v1/security/bans", headers=ADMIN, json={"address": ATTACKER[0]})
        assert poll(lambda: second.get("/health").status_code == 403)
        add_ban(first.app.state.runtime.records, "192.0.2.1", seconds=60, reason="x")  # type: ignore[attr-defined]
        assert poll(lambda: second.app.state.runtime.guard.bans.banned("192.0.2.1") is not None)  # type: ignore[attr-defined]


def test_brute_force_in_ingested_access_logs_bans_the_address(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for("embedded", security={"failed_login_routes": ["POST /wp-login.php"],
                                                  "disabled_rules": ["probe.wordpress"]})  # a WordPress site
    line = ('198.51.100.9 - - [26/Nov/2026:10:00:{s:02d} +0000] "POST /wp-login.php HTTP/1.1" 401 12 '
            '"-" "Mozilla/5.0"')
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime  # type: ignore[attr-defined]
        runtime.logs.pipeline.process([line.format(s=s) for s in range(20)], site_id="default", fmt="combined")
        assert runtime.guard.bans.banned("198.51.100.9") is None  # 20: at the threshold
        runtime.logs.pipeline.process([line.format(s=20)], site_id="default", fmt="combined")
        assert runtime.guard.bans.banned("198.51.100.9") is not None  # 21: over it
        bans = active_bans(runtime.records)
        assert [(b.threat, b.created_by) for b in bans] == [("brute_force", "auto")], bans
