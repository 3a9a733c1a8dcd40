"""``leadwatch privacy export|erase|retention|requests`` on a store a real app filled."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from leadwatch.app import create_app
from leadwatch.cli import app
from leadwatch.leads.form import LeadIn
from leadwatch.leads.intake import Submission
from leadwatch.settings import load_settings

runner = CliRunner()
NOW = datetime.now(UTC)


def config(tmp_path: Path, **privacy: Any) -> Path:
    path = tmp_path / "leadwatch.yaml"
    path.write_text(yaml.safe_dump({
        "storage": {"data_dir": str(tmp_path / "data")}, "security": {"enabled": False},
        "synthetic": {"enabled": False}, "privacy": privacy,
    }))
    return path


@pytest.fixture
def seeded(tmp_path: Path) -> Path:
    path = config(tmp_path, lead_retention_days=30)
    with TestClient(create_app(load_settings(path))) as client:
        intake = client.app.state.runtime.leads  # type: ignore[attr-defined]
        for name, email, age in (("Ann Example", "ann@example.com", 40), ("Bob Other", "bob@example.com", 2)):
            lead = LeadIn.model_validate({"name": name, "email": email})
            intake.submit(Submission(lead=lead, site_id="default", received_at=NOW - timedelta(days=age)))
    return path


def run(*args: str, input: str | None = None) -> Any:
    return runner.invoke(app, list(args), input=input)


def test_export_writes_the_document_for_its_owner_only(seeded: Path, tmp_path: Path) -> None:
    out = tmp_path / "ann.json"
    result = run("privacy", "export", "--config", str(seeded), "--email", "ANN@example.com", "--output", str(out))
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text())
    assert [lead["name"] for lead in document["leads"]] == ["Ann Example"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    printed = json.loads(run("privacy", "export", "--config", str(seeded), "--email", "bob@example.com").stdout)
    assert [lead["name"] for lead in printed["leads"]] == ["Bob Other"]


def test_erase_asks_first_and_lists_the_request_without_the_address(seeded: Path) -> None:
    declined = run("privacy", "erase", "--config", str(seeded), "--email", "ann@example.com", input="n\n")
    assert declined.exit_code == 1 and "1 leads" in declined.output
    erased = run("privacy", "erase", "--config", str(seeded), "--email", "ann@example.com", input="y\n")
    assert erased.exit_code == 0 and "1 leads" in erased.output, erased.output
    again = run("privacy", "erase", "--config", str(seeded), "--email", "ann@example.com", "--yes")
    assert again.exit_code == 0 and "0 leads" in again.output
    export = json.loads(run("privacy", "export", "--config", str(seeded), "--email", "ann@example.com").stdout)
    assert export["leads"] == [] and [r["kind"] for r in export["requests"]] == ["erase", "erase"]
    listed = run("privacy", "requests", "--config", str(seeded))
    assert listed.exit_code == 0 and [line.split("\t")[1] for line in listed.stdout.splitlines()] == [
        "export", "erase", "erase"]
    assert "ann@example.com" not in listed.output


def test_bad_subjects_exit_2_naming_the_option(seeded: Path) -> None:
    for args, option in ((("--email", "nobody"), "--email"), (("--email", "a@example.com", "--site", "x"), "--site"),
                         (("--email", "a@example.com", "--phone", "1"), "--phone")):
        result = run("privacy", "erase", "--config", str(seeded), "--yes", *args)
        assert result.exit_code == 2 and option in result.output


def test_retention_dry_run_then_apply(seeded: Path, tmp_path: Path) -> None:
    dry = run("privacy", "retention", "--config", str(seeded), "--dry-run")
    assert dry.exit_code == 0 and "would anonymise 1 lead(s)" in dry.output, dry.output
    assert json.loads(run("privacy", "export", "--config", str(seeded), "--email", "ann@example.com").stdout)["leads"]
    applied = run("privacy", "retention", "--config", str(seeded))
    assert applied.exit_code == 0 and "1 leads" in applied.output, applied.output
    assert not json.loads(run("privacy", "export", "--config", str(seeded), "--email", "ann@example.com").stdout)["leads"]
    assert json.loads(run("privacy", "export", "--config", str(seeded), "--email", "bob@example.com").stdout)["leads"]
    off = run("privacy", "retention", "--config", str(config(tmp_path)), "--dry-run")
    assert off.exit_code == 1 and "lead_retention_days is not set" in off.output
