"""Channel ROI: the arithmetic by hand, then the API against the spend and attribution
APIs for the same range and model."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.app import create_app
from leadwatch.marketing.roi import returns, table
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN


def test_returns_by_hand() -> None:
    row = returns(spend=1000, leads=4, qualified=2, won=1, value=2500)
    assert row["cost_per_lead"] == 250 and row["cost_per_qualified"] == 500 and row["cost_per_won"] == 1000
    assert row["roas"] == 2.5 and row["roi"] == 1.5
    loss = returns(spend=400, leads=0, qualified=0, won=0, value=100)
    assert loss["cost_per_lead"] is None and loss["cost_per_won"] is None and loss["roi"] == -0.75
    free = returns(spend=0, leads=3, qualified=1, won=1, value=900)
    assert free["roas"] is None and free["roi"] is None and free["cost_per_lead"] == 0


def test_table_lists_spend_first_and_totals_everything() -> None:
    credit = {"Paid Search": {"leads": 2.5, "qualified": 1.0, "won": 0.5, "value": 1000.0},
              "Organic Search": {"leads": 1.5, "qualified": 1.0, "won": 0.5, "value": 1000.0}}
    result = table({"Paid Search": 500.0, "Email": 100.0}, credit)
    assert [r["key"] for r in result["rows"]] == ["Paid Search", "Email", "Organic Search"]
    assert result["rows"][1]["leads"] == 0 and result["rows"][1]["roi"] == -1
    total = result["total"]
    assert (total["spend"], total["leads"], total["won"], total["value"]) == (600, 4, 1, 2000)
    assert total["roi"] == pytest.approx((2000 - 600) / 600)


@pytest.fixture
def client(settings_for: Any, backend: str) -> Any:
    settings = settings_for(backend, security={"enabled": False},
                            leads={"rate_limit_per_email": 100, "rate_limit_per_ip": 100})
    with TestClient(create_app(settings)) as c:
        yield c


def test_roi_matches_the_spend_and_attribution_apis(client: TestClient) -> None:
    now = utcnow()
    params = {"site": "default", "from": f"{now:%Y-%m}-01T00:00:00Z", "to": now.isoformat() + "Z"}
    before = client.get("/api/v1/marketing/roi", headers=ADMIN, params=params).json()
    assert before["channel"] is None and before["campaign"] is None  # no spend: no ROI
    month = f"{now:%Y-%m}"
    for body in ({"channel": "Paid Search", "campaign": "brand", "month": month, "amount": 3000},
                 {"channel": "Email", "month": month, "amount": 600}):
        assert client.post("/api/v1/marketing/spend", headers=ADMIN, json=body).status_code == 201
    ids = []
    for email, source, medium, campaign in (("a@example.com", "google", "cpc", "brand"),
                                            ("b@example.com", "google", "cpc", "brand"),
                                            ("c@example.com", "newsletter", "email", None)):
        made = client.post("/api/leads", json={"name": "N", "email": email, "utm_source": source,
                                               "utm_medium": medium, "utm_campaign": campaign})
        assert made.status_code in (200, 201, 202), made.text
        ids.append(made.json()["id"])
    for lead_id, status, value in ((ids[0], "won", 5000), (ids[1], "qualified", None)):
        body = {"status": status, **({"value": value} if value else {})}
        assert client.post(f"/api/v1/leads/{lead_id}/followups", headers=ADMIN, json=body).status_code == 201

    params["to"] = (utcnow().replace(microsecond=0) + timedelta(seconds=1)).isoformat() + "Z"
    roi = client.get("/api/v1/marketing/roi", headers=ADMIN, params={**params, "model": "linear"}).json()
    spent = client.get("/api/v1/marketing/spend", headers=ADMIN, params=params).json()["in_range"]["by_channel"]
    credited = client.get("/api/v1/analytics/attribution", headers=ADMIN, params=params).json()["rows"]
    rows = {r["key"]: r for r in roi["channel"]["rows"]}
    assert set(spent) <= set(rows)
    for channel, amount in spent.items():
        assert rows[channel]["spend"] == pytest.approx(amount, abs=0.01)
    for row in credited:
        assert rows[row["key"]]["leads"] == pytest.approx(row["leads"]["linear"])
        assert rows[row["key"]]["value"] == pytest.approx(row["value"]["linear"])
    paid = rows["Paid Search"]
    assert (paid["leads"], paid["qualified"], paid["won"], paid["value"]) == (2, 2, 1, 5000)
    assert paid["cost_per_lead"] == pytest.approx(paid["spend"] / 2)
    assert paid["roi"] == pytest.approx((5000 - paid["spend"]) / paid["spend"])
    assert rows["Email"]["leads"] == 1 and rows["Email"]["won"] == 0 and rows["Email"]["cost_per_won"] is None
    campaigns = {r["key"]: r for r in roi["campaign"]["rows"]}
    assert campaigns["brand"]["spend"] == pytest.approx(paid["spend"]) and campaigns["brand"]["won"] == 1

    bad = client.get("/api/v1/marketing/roi", headers=ADMIN, params={**params, "model": "nope"})
    assert bad.status_code == 422 and "query.model" in bad.json()["error"]["fields"]
