"""`leadwatch synthetic run|list`: run a journey once and print each step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.synthetic.sites import serve_site
from tests.test_cli import run

JOURNEY = """
name: site-check
steps:
  - name: home
    http: {url: "${site_url}/", expect: {body_contains: [Welcome], meta: {}}}
  - name: contact
    http: {url: "${site_url}/contact"}
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    journeys = tmp_path / "journeys"
    journeys.mkdir()
    (journeys / "site.yaml").write_text(JOURNEY)
    path = tmp_path / "leadwatch.yaml"
    path.write_text(f"storage: {{data_dir: {tmp_path / 'data'}}}\n"
                    f"synthetic: {{journeys_dir: {journeys}, default_journeys: false}}\n"
                    "logging: {level: warning}\n")
    return path


def test_run_prints_each_step_and_exits_0(config: Path) -> None:
    with serve_site() as (base, _):
        result = run("synthetic", "run", "site-check", "--config", str(config), "--site-url", base)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("ok   home") and lines[1].startswith("ok   contact")
    assert lines[-1].startswith("site-check passed in ")


def test_a_failing_run_exits_1_with_the_reason(config: Path) -> None:
    with serve_site() as (base, site):
        site.mode = "missing_meta"
        result = run("synthetic", "run", "site-check", "--config", str(config), "--site-url", base,
                     "--format", "json")
    assert result.exit_code == 1
    body = json.loads(result.output)
    assert body["success"] is False and body["error"] == "home: meta description missing"


def test_unknown_journeys_and_bad_files_exit_2(config: Path, tmp_path: Path) -> None:
    result = run("synthetic", "run", "nope", "--config", str(config))
    assert result.exit_code == 2 and "no journey 'nope'; known: site-check" in result.output
    (tmp_path / "journeys" / "bad.yaml").write_text("name: bad\nfrequency: soon\nsteps: []\n")
    result = run("synthetic", "list", "--config", str(config))
    assert result.exit_code == 2
    assert "bad.yaml: frequency: must be a duration such as 30s, 2m or 1h" in result.output


def test_list_shows_the_journeys(config: Path) -> None:
    result = run("synthetic", "list", "--config", str(config))
    assert result.exit_code == 0
    assert result.output.startswith("site-check\tevery 60 s\tSLO 99.9%\twarn 2 crit 3\t2 steps\tall")
