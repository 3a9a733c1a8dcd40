"""``leadwatch leads list|export|rescore`` against a store a real app filled."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from leadwatch.app import create_app
from leadwatch.cli import app
from leadwatch.leads.models import Lead
from leadwatch.leads.queries import CSV_COLUMNS
from leadwatch.leads.scoring import model_version
from leadwatch.settings import load_settings
from leadwatch.store.records import RecordStore
from tests.leads.test_engagement import journey

runner = CliRunner()
ANN = {"name": "Ann Example", "email": "ann@example.com", "company": "Acme", "phone": "+44 20 7946 0000",
       "budget": "20k", "utm_source": "google", "utm_medium": "organic", "message": "-2+3 please"}
# Ann: organic 85, complete 100, engagement unknown (neutral 50), demographics 50.
# Jo: after a journey (engagement 64: see test_engagement), organic 85, name + email 55.
WEIGHTS = {"source": 10, "engagement": 45, "completion": 25, "demographics": 20}


def config(tmp_path: Path, name: str = "leadwatch.yaml", **leads: Any) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({
        "storage": {"data_dir": str(tmp_path / "data")}, "security": {"enabled": False},
        "synthetic": {"enabled": False}, "leads": leads,
    }))
    return path


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, int]:
    with TestClient(create_app(load_settings(config(tmp_path)))) as client:
        ann = client.post("/api/leads", json=ANN).json()["id"]
        token = journey(client)
        jo = client.post("/api/leads", json={"name": "Jo", "email": "jo@example.com",
                                             "attribution_token": token}).json()["id"]
        spam = client.post("/api/leads", json={**ANN, "email": "bot@example.com", "website": "x"}).json()["id"]
    return {"ann": ann, "jo": jo, "spam": spam}


def run(*args: str) -> Any:
    return runner.invoke(app, list(args))


def stored(tmp_path: Path) -> dict[int, Lead]:
    records = RecordStore.open(load_settings(config(tmp_path)))
    try:
        with records.session() as session:
            leads = {lead.id: lead for lead in session.scalars(select(Lead))}
            session.expunge_all()
            return leads
    finally:
        records.close()


def test_list(tmp_path: Path, seeded: dict[str, int]) -> None:
    result = run("leads", "list", "--config", str(config(tmp_path)))
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.stdout.splitlines()]
    assert [(int(r[0]), r[2], r[3], r[4], r[5], r[6]) for r in lines] == [
        (seeded["jo"], "standard", "65", "new", "jo@example.com", "Jo"),
        (seeded["ann"], "high", "73", "new", "ann@example.com", "Ann Example"),
    ]
    assert "2 of 2 shown" in result.stderr
    high = run("leads", "list", "--config", str(config(tmp_path)), "--tier", "high", "--limit", "5")
    assert [line.split("\t")[0] for line in high.stdout.splitlines()] == [str(seeded["ann"])]
    spam = run("leads", "list", "--config", str(config(tmp_path)), "--rejected")
    assert spam.stdout.split("\t")[4] == "spam_honeypot"
    bad = run("leads", "list", "--config", str(config(tmp_path)), "--tier", "gold")
    assert bad.exit_code == 2 and "--tier must be one of premium, high, standard, low, poor" in bad.output


def test_export_writes_the_csv_atomically(tmp_path: Path, seeded: dict[str, int]) -> None:
    out = tmp_path / "leads.csv"
    result = run("leads", "export", "--config", str(config(tmp_path)), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.stderr and not (tmp_path / "leads.csv.partial").exists()
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["id"]) for r in rows] == [seeded["ann"], seeded["jo"]]
    assert rows[0]["message"] == "'-2+3 please"  # not a formula in a spreadsheet
    to_stdout = run("leads", "export", "--config", str(config(tmp_path)), "--out", "-", "--rejected")
    assert to_stdout.stdout.splitlines()[0] == ",".join(CSV_COLUMNS)
    assert [r["email"] for r in csv.DictReader(io.StringIO(to_stdout.stdout))] == ["bot@example.com"]


def test_rescore_applies_a_changed_model(tmp_path: Path, seeded: dict[str, int]) -> None:
    before = stored(tmp_path)
    assert (before[seeded["ann"]].score, before[seeded["jo"]].score) == (73, 65)
    changed = config(tmp_path, "changed.yaml", scoring={"weights": WEIGHTS})
    dry = run("leads", "rescore", "--config", str(changed), "--dry-run")
    assert dry.exit_code == 0 and "rescored 3 leads of older models; would change the score or tier of 3" in dry.stdout
    assert stored(tmp_path)[seeded["ann"]].score == 73

    result = run("leads", "rescore", "--config", str(changed))
    assert result.exit_code == 0, result.output
    assert "rescored 3 leads of older models; changed the score or tier of 3" in result.stdout
    after = stored(tmp_path)
    ann, jo = after[seeded["ann"]], after[seeded["jo"]]
    # 0.10 x 85 + 0.45 x 50 + 0.25 x 100 + 0.20 x 50 = 66
    assert (ann.score, ann.tier) == (66, "standard")
    # The engagement of Jo's journey is the one stored: 0.10 x 85 + 0.45 x 64 + 0.25 x 55 + 0.20 x 50 = 61.05
    assert (jo.score, jo.tier) == (61, "standard")
    assert jo.score_breakdown["engagement"] == before[seeded["jo"]].score_breakdown["engagement"]
    assert jo.score_breakdown["factors"]["engagement"] == {"score": 64.0, "weight": 45, "points": 28.8}
    version = model_version(load_settings(changed).leads.scoring)
    assert ann.model_version == jo.model_version == ann.score_breakdown["model_version"] == version
    assert version != before[seeded["ann"]].model_version
    # A standard lead is due a business day later than a high one.
    assert ann.follow_up_due is not None and ann.follow_up_due > before[seeded["ann"]].follow_up_due

    again = run("leads", "rescore", "--config", str(changed))
    assert "rescored 0 leads of older models; changed the score or tier of 0" in again.stdout
