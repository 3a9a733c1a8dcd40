"""The committed deploy/ files are what the generator makes, and Prometheus' and
Alertmanager's own tools accept them: promtool's unit tests (one per alert, written
from the embedded evaluator's simulation, so passing proves the two agree) and
amtool's routing of each tier to its receiver."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from leadwatch.alerting.catalogue import load_catalogue
from leadwatch.alerting.generate import ALERTMANAGER_FILE, export, receiver_name
from leadwatch.alerting.scenarios import scenarios
from leadwatch.settings import load_settings
from tests.servers import missing

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deploy")
    settings = load_settings()
    export(settings, load_catalogue(settings.alerting), out)
    return out


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        missing(f"{name} not installed (apt-get install prometheus prometheus-alertmanager)")
    return str(path)


def test_committed_files_are_what_the_generator_makes(generated: Path) -> None:
    made = sorted(p.relative_to(generated) for p in generated.rglob("*.yml"))
    committed = sorted(p.relative_to(DEPLOY) for p in DEPLOY.rglob("*.yml"))
    assert made == committed
    stale = [str(p) for p in made if (generated / p).read_text() != (DEPLOY / p).read_text()]
    assert not stale, f"run `leadwatch rules export --out deploy` and commit: {stale}"


def test_every_alert_has_a_scenario_and_a_runbook() -> None:
    catalogue = load_catalogue(load_settings().alerting)
    covered = {(s.alert, tuple(sorted(s.match.items()))) for s in scenarios()}
    for alert in catalogue.alerts:
        assert any(name == alert.name and all(alert.static_labels().get(k) == v for k, v in match)
                   for name, match in covered), f"{alert.key} has no scenario"
        assert (ROOT / "docs" / "runbooks" / f"{alert.runbook}.md").is_file(), alert.runbook


@pytest.mark.prometheus
def test_promtool_checks_and_unit_tests_pass() -> None:
    promtool = _tool("promtool")
    rules = sorted(str(p) for p in (DEPLOY / "prometheus").glob("*.yml"))
    subprocess.run([promtool, "check", "rules", *rules], check=True, capture_output=True, text=True)
    tests = sorted(str(p) for p in (DEPLOY / "prometheus" / "tests").glob("*.test.yml"))
    result = subprocess.run([promtool, "test", "rules", *tests], capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.prometheus
@pytest.mark.parametrize("severity", ["critical", "warning", "info"])
def test_alertmanager_routes_each_tier_to_its_receiver(severity: str) -> None:
    amtool = _tool("amtool")
    config = str(DEPLOY / ALERTMANAGER_FILE)
    subprocess.run([amtool, "check-config", config], check=True, capture_output=True, text=True)
    result = subprocess.run(
        [amtool, "config", "routes", "test", f"--config.file={config}",
         f"--verify.receivers={receiver_name(severity)}", f"severity={severity}", "service=web",
         "alertname=Example"],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
