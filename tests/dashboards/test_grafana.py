"""The generated Grafana dashboards: committed files match the generator, every
PromQL query parses and answers on a real Prometheus scraping a real leadwatch,
and every SQL query runs on a real PostgreSQL holding leadwatch's events."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from typer.testing import CliRunner

from leadwatch.cli import app as cli
from leadwatch.dashboards.grafana.catalogue import DASHBOARDS
from leadwatch.dashboards.grafana.export import files
from leadwatch.settings import Settings
from leadwatch.store.events import EventStore
from leadwatch.store.schema import EVENTS, Event, utcnow
from tests.conftest import ADMIN, ADMIN_TOKEN
from tests.servers import LeadwatchProcess, PrometheusServer, missing

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "deploy" / "grafana" / "dashboards"
PROMQL = sorted({q.expr for board in DASHBOARDS.values() for q in board.queries() if not q.sql})
SQL = sorted({q.expr for board in DASHBOARDS.values() for q in board.queries() if q.sql})
# Grafana's variables, as Grafana would set them for a short range.
VARIABLES = {"$__rate_interval": "1m", "$__range": "10m", "$__interval": "15s"}
SELECTOR = re.compile(r"\b((?:leadwatch|process)_[a-z_]+|up)\b(\{[^}]*\})?")


def test_committed_dashboards_match_the_generator() -> None:
    generated = files()
    for name, content in generated.items():
        path = COMMITTED / name
        assert path.is_file(), f"{path} is missing: run leadwatch dashboards export"
        assert path.read_text(encoding="utf-8") == content, (
            f"{path} differs from the generator: run leadwatch dashboards export"
        )
    on_disk = {p.relative_to(COMMITTED).as_posix() for p in COMMITTED.rglob("*") if p.is_file()}
    assert on_disk == set(generated), "files in deploy/grafana/dashboards the generator no longer makes"


def test_export_command_writes_and_checks(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "grafana"
    result = runner.invoke(cli, ["dashboards", "export", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "executive.json").is_file() and (out / "provisioning/datasources/leadwatch.yaml").is_file()
    assert runner.invoke(cli, ["dashboards", "export", "--out", str(out), "--check"]).exit_code == 0
    (out / "security.json").write_text("{}")
    result = runner.invoke(cli, ["dashboards", "export", "--out", str(out), "--check"])
    assert result.exit_code == 1 and "security.json" in result.output


def test_panels_have_unique_ids_and_fit_the_grid() -> None:
    for board in DASHBOARDS.values():
        panels = board.json()["panels"]
        assert len({p["id"] for p in panels}) == len(panels)
        assert all(p["gridPos"]["x"] + p["gridPos"]["w"] <= 24 for p in panels)


def grafana_to_promql(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


@pytest.fixture(scope="module")
def scraped(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    binary = shutil.which("prometheus")
    if binary is None:
        missing("prometheus not installed (apt-get install prometheus)")
    workdir = tmp_path_factory.mktemp("grafana-prom")
    server = LeadwatchProcess(
        {"LEADWATCH_DATA_DIR": str(workdir / "data"), "LEADWATCH_ADMIN_TOKEN": ADMIN_TOKEN},
        workdir / "leadwatch.log",
    ).start()
    prometheus = PrometheusServer(binary, workdir / "prom", [server.url.removeprefix("http://")]).start()
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for _ in range(20):
                client.get("/health")
                client.get("/no-such-page")
            client.post("/api/v1/events", json=[{"site_id": "default", "type": "pageview"}] * 5,
                        headers=ADMIN)
        prometheus.wait_for('leadwatch_http_requests_total{route="/health"}', timeout=120)
        yield prometheus
    finally:
        prometheus.stop()
        server.stop()


@pytest.mark.prometheus
@pytest.mark.parametrize("expr", PROMQL)
def test_promql_parses_and_answers_where_its_series_exist(scraped: PrometheusServer, expr: str) -> None:
    promql = grafana_to_promql(expr)
    response = httpx.get(f"{scraped.url}/api/v1/query", params={"query": promql}, timeout=30)
    assert response.status_code == 200, f"{promql}: {response.text}"
    selectors = {m.group(0) for m in SELECTOR.finditer(promql)}
    if all(scraped.query(s) for s in selectors):
        assert scraped.wait_for(promql, timeout=120), promql


@pytest.mark.prometheus
def test_the_request_panels_have_data(scraped: PrometheusServer) -> None:
    """The RED panels are the core of stack mode: their series must exist here."""
    for expr in PROMQL:
        if "leadwatch_http_request" in expr and 'status=~"5.."' not in expr:
            assert scraped.wait_for(grafana_to_promql(expr), timeout=120), expr


def grafana_to_sql(sql: str, start: str, end: str) -> str:
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN '{start}' AND '{end}'", sql)
    return re.sub(
        r"\$__timeGroupAlias\((\w+), '1([dh])'\)",
        lambda m: f"floor(extract(epoch from {m.group(1)}) / {86400 if m.group(2) == 'd' else 3600})"
        f" * {86400 if m.group(2) == 'd' else 3600} AS \"time\"",
        sql,
    )


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("sql", SQL)
def test_sql_panels_run_on_postgresql(settings: Settings, store: EventStore, sql: str) -> None:
    now = utcnow()
    store.write_batch(EVENTS, [
        Event("default", now - timedelta(hours=1), "pageview", session_id="s1", path="/",
              channel="Direct").row(),
        Event("default", now - timedelta(hours=2), "pageview", session_id="s2", path="/pricing").row(),
        Event("default", now, "security", name="sqli", path="/x",
              props={"ip": "203.0.113.9", "action": "blocked"}).row(),
    ])
    assert settings.storage.database_url is not None
    query = grafana_to_sql(sql, f"{now - timedelta(days=1):%Y-%m-%dT%H:%M:%S}Z",
                           f"{now + timedelta(minutes=1):%Y-%m-%dT%H:%M:%S}Z")
    with psycopg.connect(settings.storage.database_url.get_secret_value()) as conn:
        rows = conn.execute(query).fetchall()
    assert rows, query
