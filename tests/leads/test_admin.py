"""The admin API over leads, on both backends: list and search, detail with the score
breakdown, CSV export, follow-ups and outcomes, the scoring report, and the token."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.leads.form import LeadIn
from leadwatch.leads.intake import Submission
from leadwatch.leads.queries import CSV_COLUMNS
from leadwatch.settings import Settings
from tests.conftest import ADMIN


def at(day: int) -> datetime:
    return datetime(2026, 11, day, 10, 0, tzinfo=UTC)


# name, arrival, fields. Hand-computed with the default model (source 30 %, engagement
# 25 % at the neutral 50, completion 25 %, demographics 20 %):
LEADS: list[tuple[str, datetime, dict[str, Any]]] = [
    # organic 85, complete 100, 201-1000 + software + GB = 100: 25.5 + 12.5 + 25 + 20 = 83
    ("ann", at(2), {"name": "Ann Example", "company": "Acme", "phone": "+44 20 7946 0000",
                    "budget": "20k", "utm_source": "google", "utm_medium": "organic",
                    "company_size": "201-1000", "industry": "Software", "country": "GB"}),
    # direct 75 (no referrer, no UTM), name + email + company 65, nothing else 50:
    # 22.5 + 12.5 + 16.25 + 10 = 61.25
    ("bob", at(10), {"name": "Bob Formula", "company": '=HYPERLINK("http://evil.example")',
                     "message": "+1 call me"}),
    # 22.5 + 12.5 + 13.75 + 10 = 58.75
    ("cy", at(20), {"name": "Cy Young", "message": "Needs a quote for 100% of the SEO"}),
    # organic 85, complete 100, nothing else 50: 25.5 + 12.5 + 25 + 10 = 73
    ("dee", at(21), {"name": "Dee Dee", "company": "Dee Ltd", "phone": "+44 20 7946 0001",
                     "budget": "5k", "utm_source": "google", "utm_medium": "organic"}),
]
SCORES = {"ann": (83, "high"), "bob": (61, "standard"), "cy": (59, "standard"), "dee": (73, "high")}


@pytest.fixture
def admin(backend: str, settings_for: Callable[..., Settings]) -> Iterator[tuple[TestClient, dict[str, int]]]:
    settings = settings_for(backend, security={"enabled": False},
                            leads={"sites": {"default": {"target_countries": ["GB"],
                                                         "target_industries": ["software"]}}})
    with TestClient(create_app(settings)) as client:
        intake = client.app.state.runtime.leads  # type: ignore[attr-defined]
        ids = {}
        for key, when, fields in LEADS:
            lead = LeadIn.model_validate({"email": f"{key}@example.com", **fields})
            ids[key] = intake.submit(Submission(lead=lead, site_id="default", received_at=when)).lead_id
        spam = LeadIn.model_validate({"name": "Bot", "email": "bot@example.com"})
        ids["spam"] = intake.submit(Submission(lead=spam, site_id="default", honeypot="http://x",
                                               received_at=at(5))).lead_id
        yield client, ids


def listed(client: TestClient, **params: Any) -> list[int]:
    response = client.get("/api/v1/leads", headers=ADMIN, params=params)
    assert response.status_code == 200, response.text
    return [lead["id"] for lead in response.json()["leads"]]


def followup(client: TestClient, lead_id: int, **body: Any) -> Any:
    return client.post(f"/api/v1/leads/{lead_id}/followups", headers=ADMIN, json=body)


def test_every_admin_endpoint_needs_the_token(admin: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = admin
    for method, path in (("GET", "/api/v1/leads"), ("GET", "/api/v1/leads/export.csv"),
                         ("GET", "/api/v1/leads/scoring-report"), ("GET", f"/api/v1/leads/{ids['ann']}"),
                         ("POST", f"/api/v1/leads/{ids['ann']}/followups")):
        for headers in ({}, {"Authorization": "Bearer wrong-token"}):
            response = client.request(method, path, headers=headers, json={"status": "contacted"})
            assert response.status_code == 401, (method, path)
            assert response.json()["error"]["code"]


def test_list_and_search(admin: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = admin
    ann, bob, cy, dee = ids["ann"], ids["bob"], ids["cy"], ids["dee"]
    page = client.get("/api/v1/leads", headers=ADMIN).json()
    assert page["total"] == 4 and [lead["id"] for lead in page["leads"]] == [dee, cy, bob, ann]
    assert {lead["id"]: (lead["score"], lead["tier"]) for lead in page["leads"]} == {
        ids[k]: v for k, v in SCORES.items()}
    assert listed(client, tier="high") == [dee, ann]
    assert listed(client, tier="standard") == [cy, bob]
    assert listed(client, tier="premium") == []
    # from is inclusive, to exclusive
    assert listed(client, **{"from": "2026-11-05T00:00:00Z", "to": "2026-11-20T10:00:00Z"}) == [bob]
    assert listed(client, **{"from": "2026-11-20T11:00:00+01:00"}) == [dee, cy]
    assert listed(client, **{"from": "2026-11-20T10:00:00"}) == [dee, cy]  # no offset: UTC
    assert listed(client, q="ACME") == [ann]  # company, any case
    assert listed(client, q="quote") == [cy]  # message
    assert listed(client, q="dee@example") == [dee]  # email
    assert listed(client, q="100%") == [cy]  # % is a character, not a wildcard
    assert listed(client, q="1_0") == []
    assert listed(client, q="Ann", tier="standard") == []
    assert listed(client, rejected="true") == [ids["spam"]]
    assert listed(client, limit=1, offset=1) == [cy]
    assert followup(client, bob, status="contacted").status_code == 201
    assert listed(client, status="contacted") == [bob] and listed(client, status="new") == [dee, cy, ann]


@pytest.mark.parametrize(("params", "field"), [
    ({"tier": "gold"}, "query.tier"),
    ({"status": "archived"}, "query.status"),
    ({"from": "2026-11-20T00:00:00Z", "to": "2026-11-05T00:00:00Z"}, "query.from"),
    ({"to": "yesterday"}, "query.to"),
    ({"limit": 501}, "query.limit"),
    ({"q": "x" * 201}, "query.q"),
])
def test_bad_filters_are_422_naming_the_parameter(
    admin: tuple[TestClient, dict[str, int]], params: dict[str, Any], field: str
) -> None:
    client, _ = admin
    for path in ("/api/v1/leads", "/api/v1/leads/export.csv", "/api/v1/leads/scoring-report"):
        if path != "/api/v1/leads" and "limit" in params:
            continue
        response = client.get(path, headers=ADMIN, params=params)
        assert response.status_code == 422, (path, response.text)
        assert field in response.json()["error"]["fields"]


def test_detail_explains_the_score(admin: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = admin
    detail = client.get(f"/api/v1/leads/{ids['ann']}", headers=ADMIN).json()
    breakdown = detail["score_breakdown"]
    assert breakdown["factors"] == {
        "source": {"score": 85.0, "weight": 30, "points": 25.5},
        "engagement": {"score": 50.0, "weight": 25, "points": 12.5},
        "completion": {"score": 100.0, "weight": 25, "points": 25.0},
        "demographics": {"score": 100.0, "weight": 20, "points": 20.0},
    }
    assert breakdown["total"] == detail["score"] == 83 and breakdown["source"] == "organic"
    assert breakdown["engagement"] is None  # no session data: the neutral 50
    assert detail["model_version"].startswith("lw1-") and breakdown["model_version"] == detail["model_version"]
    assert (detail["channel"], detail["country"], detail["activities"]) == ("Organic Search", "GB", [])
    missing = client.get("/api/v1/leads/999999", headers=ADMIN)
    assert missing.status_code == 404 and "path.lead_id" in missing.json()["error"]["fields"]
    assert client.get("/api/v1/leads/0", headers=ADMIN).status_code == 422


def test_csv_export(admin: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = admin
    response = client.get("/api/v1/leads/export.csv", headers=ADMIN)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith('attachment; filename="leads-')
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert [int(r["id"]) for r in rows] == [ids["ann"], ids["bob"], ids["cy"], ids["dee"]]  # oldest first
    bob = rows[1]
    # Cells a spreadsheet would run as a formula start with an apostrophe.
    assert bob["company"] == "'=HYPERLINK(\"http://evil.example\")" and bob["message"] == "'+1 call me"
    assert (bob["score"], bob["tier"], bob["created_at"]) == ("61", "standard", "2026-11-10T10:00:00+00:00")
    high = list(csv.DictReader(io.StringIO(client.get("/api/v1/leads/export.csv", headers=ADMIN,
                                                      params={"tier": "high"}).text)))
    assert [int(r["id"]) for r in high] == [ids["ann"], ids["dee"]]
    spam = list(csv.DictReader(io.StringIO(client.get("/api/v1/leads/export.csv", headers=ADMIN,
                                                      params={"rejected": "true"}).text)))
    assert [r["rejected_reason"] for r in spam] == ["spam_honeypot"]


def test_follow_ups_and_outcomes(admin: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = admin
    ann = ids["ann"]
    contacted = followup(client, ann, status="contacted", note="left a voicemail")
    assert contacted.status_code == 201
    assert contacted.json()["status"] == "contacted" and contacted.json()["contacted_at"] is not None
    for body, field in (({"status": "won"}, "body.value"),
                        ({"status": "lost", "value": 10}, "body.value"),
                        ({"status": "won", "value": -5}, "body.value"),
                        ({"status": "archived"}, "body.status"),
                        ({"status": "contacted", "note": "x" * 5001}, "body.note")):
        refused = followup(client, ann, **body)
        assert refused.status_code == 422, body
        assert field in refused.json()["error"]["fields"], body
    assert followup(client, ann, status="qualified").status_code == 201
    back = followup(client, ann, status="contacted")
    assert back.status_code == 409 and "body.status" in back.json()["error"]["fields"]
    won = followup(client, ann, status="won", value=5000, note="signed")
    assert won.status_code == 201
    lead = won.json()
    assert (lead["status"], lead["won_value"]) == ("won", 5000) and lead["outcome_at"] is not None
    assert [(a["status"], a["value"], a["note"]) for a in lead["activities"]] == [
        ("contacted", None, "left a voicemail"), ("qualified", None, None), ("won", 5000, "signed")]
    final = followup(client, ann, status="lost")
    assert final.status_code == 409 and "already won" in final.json()["error"]["fields"]["body.status"]
    spam = followup(client, ids["spam"], status="contacted")
    assert spam.status_code == 409 and "path.lead_id" in spam.json()["error"]["fields"]
    assert followup(client, 999999, status="contacted").status_code == 404


def test_the_scoring_report_counts_outcomes_per_tier(admin: tuple[TestClient, dict[str, int]]) -> None:
    client, ids = admin
    for lead, steps in (("ann", [{"status": "contacted"}, {"status": "won", "value": 5000}]),
                        ("dee", [{"status": "qualified"}, {"status": "lost"}]),
                        ("bob", [{"status": "contacted"}])):
        for step in steps:
            assert followup(client, ids[lead], **step).status_code == 201
    report = {r["tier"]: r for r in client.get("/api/v1/leads/scoring-report", headers=ADMIN).json()["tiers"]}
    assert list(report) == ["premium", "high", "standard", "low", "poor"]
    # dee was qualified before being lost: she counts as qualified.
    assert report["high"] == {"tier": "high", "leads": 2, "qualified": 2, "won": 1, "won_value": 5000.0,
                              "qualification_rate": 1.0, "conversion_rate": 0.5}
    assert report["standard"] == {"tier": "standard", "leads": 2, "qualified": 0, "won": 0, "won_value": 0.0,
                                  "qualification_rate": 0.0, "conversion_rate": 0.0}
    assert report["premium"] == {"tier": "premium", "leads": 0, "qualified": 0, "won": 0, "won_value": 0.0,
                                 "qualification_rate": None, "conversion_rate": None}
    late = {r["tier"]: r for r in client.get("/api/v1/leads/scoring-report", headers=ADMIN,
                                              params={"from": "2026-11-15T00:00:00Z"}).json()["tiers"]}
    assert (late["high"]["leads"], late["high"]["qualified"], late["high"]["won"]) == (1, 1, 0)
    assert (late["high"]["qualification_rate"], late["high"]["conversion_rate"]) == (1.0, 0.0)
    assert late["standard"]["leads"] == 1
