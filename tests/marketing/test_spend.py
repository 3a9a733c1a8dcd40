"""Marketing spend: entered through the admin API (stored, listed, deleted) or given
as budgets in settings, and spread over a range by day."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.app import create_app
from leadwatch.marketing.spend import SpendLine, month_days
from tests.conftest import ADMIN

URL = "/api/v1/marketing/spend"


def line(first: date, last: date, amount: float) -> SpendLine:
    return SpendLine(None, "api", "Paid Search", None, first, last, amount, "EUR")


def test_a_month_spreads_evenly_over_its_days() -> None:
    assert month_days("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    november = line(*month_days("2026-11"), 3000)  # 30 days: 100 a day
    assert november.share(datetime(2026, 11, 1), datetime(2026, 12, 1)) == pytest.approx(3000)
    assert november.share(datetime(2026, 11, 10), datetime(2026, 11, 17)) == pytest.approx(700)
    assert november.share(datetime(2026, 11, 30, 12), datetime(2026, 12, 5)) == pytest.approx(50)
    assert november.share(datetime(2026, 10, 1), datetime(2026, 11, 1)) == 0
    assert november.share(datetime(2026, 11, 5, 6), datetime(2026, 11, 5, 18)) == pytest.approx(50)


@given(
    first=st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 1, 1)),
    days=st.integers(1, 400),
    cuts=st.lists(st.integers(0, 500 * 24), max_size=6),
    amount=st.floats(0.01, 1e9),
)
def test_the_shares_of_ranges_that_tile_the_period_add_up_to_the_amount(
    first: date, days: int, cuts: list[int], amount: float
) -> None:
    spend = line(first, first + timedelta(days=days - 1), amount)
    start = datetime.combine(first, datetime.min.time()) - timedelta(days=3)
    edges = sorted({start, *(start + timedelta(hours=h) for h in cuts), start + timedelta(days=days + 6)})
    shares = [spend.share(a, b) for a, b in itertools.pairwise(edges)]
    assert all(s >= 0 for s in shares)
    assert sum(shares) == pytest.approx(amount, rel=1e-9)


@pytest.fixture
def api(settings_for: Any, backend: str) -> Any:
    settings = settings_for(backend, marketing={"sites": {"default": {
        "currency": "GBP", "spend": [{"channel": "Email", "month": "2026-10", "amount": 310}]}}})
    with TestClient(create_app(settings)) as client:
        yield client


def test_spend_is_entered_listed_prorated_and_deleted(api: TestClient) -> None:
    made = api.post(URL, headers=ADMIN, json={"channel": "Paid Search", "campaign": "brand", "month": "2026-11",
                                              "amount": 3000, "currency": "GBP", "note": "Google Ads"})
    assert made.status_code == 201, made.text
    entry = made.json()
    assert entry["first_day"] == "2026-11-01" and entry["last_day"] == "2026-11-30"
    assert entry["currency"] == "GBP" and entry["source"] == "api" and entry["site"] == "default"
    ranged = api.post(URL, headers=ADMIN, json={"channel": "Paid Social", "start": "2026-10-25", "end": "2026-11-03",
                                                "amount": 1000})
    assert ranged.status_code == 201 and ranged.json()["currency"] == "GBP"

    listed = api.get(URL, headers=ADMIN, params={"site": "default", "from": "2026-10-31T00:00:00Z",
                                                 "to": "2026-11-02T00:00:00Z"}).json()
    assert listed["currency"] == "GBP"
    assert {(s["channel"], s["source"]) for s in listed["spend"]} == {
        ("Email", "settings"), ("Paid Search", "api"), ("Paid Social", "api")}
    # Two days: Oct 31 of the Email budget (10 a day), Nov 1 of Paid Search (100 a day),
    # and both days of the Paid Social range (100 a day).
    assert listed["in_range"]["by_channel"] == {"Email": 10.0, "Paid Search": 100.0, "Paid Social": 200.0}
    assert listed["in_range"]["total"] == 310.0

    assert api.delete(f"{URL}/{entry['id']}", headers=ADMIN).json() == {"id": entry["id"], "deleted": True}
    assert api.delete(f"{URL}/{entry['id']}", headers=ADMIN).status_code == 404
    after = api.get(URL, headers=ADMIN, params={"site": "default"}).json()["spend"]
    assert [s["channel"] for s in after] == ["Email", "Paid Social"]


@pytest.mark.parametrize(("body", "field"), [
    ({"channel": "Billboards", "month": "2026-11", "amount": 1}, "body.channel"),
    ({"channel": "Email", "month": "2026-13", "amount": 1}, "body.month"),
    ({"channel": "Email", "amount": 1}, "body.start"),
    ({"channel": "Email", "start": "2026-11-01", "amount": 1}, "body.end"),
    ({"channel": "Email", "start": "2026-11-05", "end": "2026-11-01", "amount": 1}, "body.end"),
    ({"channel": "Email", "month": "2026-11", "start": "2026-11-01", "end": "2026-11-02", "amount": 1}, "body.month"),
    ({"channel": "Email", "month": "2026-11", "amount": 0}, "body.amount"),
    ({"channel": "Email", "month": "2026-11", "amount": 1, "currency": "USD"}, "body.currency"),
    ({"channel": "Email", "month": "2026-11", "amount": 1, "site_id": "elsewhere"}, "body.site_id"),
    ({"channel": "Email", "month": "2026-11", "amount": 1, "colour": "red"}, "body.colour"),
    ({"channel": "Email", "start": "9999-12-30", "end": "9999-12-31", "amount": 1}, "body.start"),
    ({"channel": "Email", "month": "0001-01", "amount": 1}, "body.month"),
])
def test_bad_spend_is_refused_naming_the_field(api: TestClient, body: dict[str, Any], field: str) -> None:
    answer = api.post(URL, headers=ADMIN, json=body)
    assert answer.status_code == 422, answer.text
    assert field in answer.json()["error"]["fields"]


def test_spend_needs_an_admin_token(api: TestClient) -> None:
    assert api.get(URL, params={"site": "default"}).status_code == 401
    assert api.post(URL, json={"channel": "Email", "month": "2026-11", "amount": 1}).status_code == 401
    assert api.delete(f"{URL}/1").status_code == 401
    assert api.get(URL, headers=ADMIN, params={"site": "nope"}).status_code == 422


def test_settings_budgets_are_validated_at_start() -> None:
    from leadwatch.settings import ConfigError, load_settings

    for spend, words in (({"channel": "Billboards", "month": "2026-11", "amount": 1}, "must be one of"),
                         ({"channel": "Email", "amount": 1}, "month or start and end"),
                         ({"channel": "Email", "start": "2026-11-02", "end": "2026-11-01", "amount": 1}, "start")):
        with pytest.raises(ConfigError, match=words):
            load_settings(None, marketing={"sites": {"default": {"spend": [spend]}}})
    with pytest.raises(ConfigError, match="marketing.sites.nowhere"):
        load_settings(None, marketing={"sites": {"nowhere": {}}})
