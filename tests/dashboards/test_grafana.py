"""The generated Grafana dashboards: committed files match the generator, every
PromQL query parses and answers on a real Prometheus scraping a real leadwatch,
every SQL query runs on a real PostgreSQL holding leadwatch's events and records
(as a role with only the documented grants), and the money panels give the numbers
the leads and marketing APIs give for the same leads, spend and range."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from typer.testing import CliRunner

from leadwatch.app import create_app
from leadwatch.cli import app as cli
from leadwatch.dashboards.grafana import catalogue
from leadwatch.dashboards.grafana.catalogue import DASHBOARDS, READER_GRANTS
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
    """The query with Grafana's macros expanded as its PostgreSQL data source does."""
    sql = re.sub(r"\$__timeFilter\((\w+)\)", rf"\1 BETWEEN '{start}' AND '{end}'", sql)
    sql = sql.replace("$__timeFrom()", f"'{start}'").replace("$__timeTo()", f"'{end}'")
    return re.sub(
        r"\$__timeGroupAlias\((\w+), '1([dh])'\)",
        lambda m: f"floor(extract(epoch from {m.group(1)}) / {86400 if m.group(2) == 'd' else 3600})"
        f" * {86400 if m.group(2) == 'd' else 3600} AS \"time\"",
        sql,
    )


def grafana_time(ts: datetime) -> str:
    return f"{ts:%Y-%m-%dT%H:%M:%S}Z"


@pytest.fixture
def reader(pg_url: str) -> Iterator[str]:
    """A login role for Grafana, granted READER_GRANTS by ``grant`` once the tables exist."""
    role = f"grafana_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
    yield role
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"DROP OWNED BY {role}")
        conn.execute(f"DROP ROLE {role}")


def grant(pg_url: str, role: str) -> str:
    """Give ``role`` the documented grants; the URL to connect as it."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        for statement in READER_GRANTS:
            conn.execute(statement.replace(" TO grafana", f" TO {role}"))
    return pg_url.replace("//postgres@", f"//{role}@", 1)


def run_panel(url: str, sql: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
    query = grafana_to_sql(sql, grafana_time(start), grafana_time(end))
    with psycopg.connect(url) as conn, conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()


def test_the_grants_are_documented() -> None:
    text = (ROOT / "docs" / "dashboards.md").read_text(encoding="utf-8")
    for statement in READER_GRANTS:
        assert statement in text, statement


@pytest.fixture
def money_app(settings_for: Any) -> Iterator[TestClient]:
    """The app on a fresh PostgreSQL database, taking many test leads."""
    settings = settings_for("postgres", security={"enabled": False},
                            leads={"rate_limit_per_email": 100, "rate_limit_per_ip": 100})
    with TestClient(create_app(settings)) as client:
        yield client


def add_lead(client: TestClient, email: str, outcome: dict[str, Any] | None = None, **utm: str) -> int:
    made = client.post("/api/leads", json={"name": "N", "email": email, **utm})
    assert made.status_code in (200, 201, 202), made.text
    lead_id = int(made.json()["id"])
    if outcome is not None:
        done = client.post(f"/api/v1/leads/{lead_id}/followups", headers=ADMIN, json=outcome)
        assert done.status_code == 201, done.text
    return lead_id


@pytest.mark.postgres
@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
@pytest.mark.parametrize("sql", SQL)
def test_sql_panels_run_on_postgresql(
    settings: Settings, store: EventStore, money_app: TestClient, pg_url: str, reader: str, sql: str
) -> None:
    now = utcnow()
    store.write_batch(EVENTS, [
        Event("default", now - timedelta(hours=1), "pageview", session_id="s1", path="/",
              channel="Direct").row(),
        Event("default", now - timedelta(hours=2), "pageview", session_id="s2", path="/pricing").row(),
        Event("default", now, "security", name="sqli", path="/x",
              props={"ip": "203.0.113.9", "action": "blocked"}).row(),
    ])
    add_lead(money_app, "won@example.com", {"status": "won", "value": 100})
    spent = money_app.post("/api/v1/marketing/spend", headers=ADMIN,
                           json={"channel": "Email", "month": f"{now:%Y-%m}", "amount": 300})
    assert spent.status_code == 201, spent.text
    rows = run_panel(grant(pg_url, reader), sql, now - timedelta(days=1), now + timedelta(minutes=1))
    assert rows, sql


@pytest.mark.postgres
def test_money_panels_equal_the_apis(money_app: TestClient, pg_url: str, reader: str) -> None:
    """Leads without a journey, so every attribution model credits the lead's own
    channel and the UI's numbers are the ones the panels must show."""
    client = money_app
    now = utcnow().replace(microsecond=0)
    today = now.date()
    # The range: three days back (a part of a day, so spend is prorated) to just after now.
    start, end = now - timedelta(days=3), now + timedelta(minutes=1)
    for body in ({"channel": "Paid Search", "start": str(today - timedelta(days=9)), "end": str(today),
                  "amount": 1000},
                 {"channel": "Paid Social", "start": str(today - timedelta(days=1)), "end": str(today + timedelta(days=1)),
                  "amount": 300},
                 # Before the range: neither its channel nor its amount counts.
                 {"channel": "Email", "start": str(today - timedelta(days=40)), "end": str(today - timedelta(days=20)),
                  "amount": 500}):
        assert client.post("/api/v1/marketing/spend", headers=ADMIN, json=body).status_code == 201
    paid = {"utm_source": "google", "utm_medium": "cpc"}
    add_lead(client, "a@example.com", {"status": "won", "value": 5000}, **paid)
    add_lead(client, "b@example.com", {"status": "lost"}, **paid)
    add_lead(client, "c@example.com", {"status": "won", "value": 1200}, utm_source="newsletter", utm_medium="email")
    unknown = add_lead(client, "d@example.com")
    old = add_lead(client, "e@example.com", {"status": "won", "value": 999}, **paid)
    spam = add_lead(client, "f@example.com", {"status": "won", "value": 777}, **paid)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE leads SET created_at = created_at - interval '30 days' WHERE id = %s", (old,))
        conn.execute("UPDATE leads SET rejected_reason = 'spam' WHERE id = %s", (spam,))
        # A lead without a channel and a journey is Direct to the UI.
        conn.execute("UPDATE leads SET channel = NULL WHERE id = %s", (unknown,))
    url = grant(pg_url, reader)

    params = {"site": "default", "from": grafana_time(start), "to": grafana_time(end)}
    tiers = client.get("/api/v1/leads/scoring-report", headers=ADMIN, params=params).json()["tiers"]
    ui_won_value = sum(t["won_value"] for t in tiers)  # the Executive page's Won value
    assert ui_won_value == 6200
    assert run_panel(url, catalogue.WON_VALUE, start, end) == [{"won value": ui_won_value}]
    per_day = run_panel(url, catalogue.WON_VALUE_PER_DAY, start, end)
    assert sum(r["won value"] for r in per_day) == ui_won_value
    assert [r["time"] for r in per_day] == [(today - date(1970, 1, 1)).days * 86_400]
    outcomes = {status: client.get("/api/v1/leads", headers=ADMIN, params={**params, "status": status}).json()["total"]
                for status in ("won", "lost", "new")}
    assert outcomes == {"won": 2, "lost": 1, "new": 1}
    assert run_panel(url, catalogue.LEAD_OUTCOMES, start, end) == [{"won": 2, "lost": 1, "open": 1}]

    roi = client.get("/api/v1/marketing/roi", headers=ADMIN, params=params).json()["channel"]
    panel = run_panel(url, catalogue.CHANNEL_ROI, start, end)
    assert [r["channel"] for r in panel] == [r["key"] for r in roi["rows"]] + ["Total"]
    assert [r["channel"] for r in panel] == ["Paid Search", "Paid Social", "Direct", "Email", "Total"]
    columns = {"spend": "spend", "leads": "leads", "won leads": "won", "won value": "value",
               "cost per lead": "cost_per_lead", "ROAS": "roas", "ROI": "roi"}
    for got, want in zip(panel, [*roi["rows"], roi["total"]], strict=True):
        for column, key in columns.items():
            if want[key] is None:
                assert got[column] is None, (got, column)
            else:
                assert float(got[column]) == pytest.approx(want[key]), (got, column)
    by_channel = {r["channel"]: r for r in panel}
    # By hand: Paid Search spends 100 a day; its leads won 5000 in the range.
    search = by_channel["Paid Search"]
    assert (search["leads"], search["won leads"], search["won value"]) == (2, 1, 5000)
    assert 300 < float(search["spend"]) <= 400
    assert float(search["ROI"]) == pytest.approx((5000 - float(search["spend"])) / float(search["spend"]))
    assert by_channel["Paid Social"]["leads"] == 0 and float(by_channel["Paid Social"]["ROI"]) == -1
    assert by_channel["Email"]["spend"] == 0 and by_channel["Email"]["ROAS"] is None
