"""Revenue impact: the estimate's arithmetic on hand-computed cases, then the same
model end to end on the real stores (events, leads, incidents) through its API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from leadwatch.alerting.models import Incident
from leadwatch.app import create_app
from leadwatch.leads.models import Lead
from leadwatch.marketing.revenue import (
    Hour,
    baseline_rate,
    drop_hours,
    hours_between,
    loss,
    outcome_rates,
)
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN

T0 = datetime(2026, 11, 2, 10)
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")


def hour(i: int, pageviews: int, visitors: int, leads: int, baseline: float) -> Hour:
    return Hour(T0 + timedelta(hours=i), pageviews, visitors, leads, baseline)


HOURS = [
    hour(0, 200, 100, 3, 2.0),
    hour(1, 200, 100, 3, 2.0),
    hour(2, 0, 0, 0, 2.5),  # the site was down: no visitors at all
    hour(3, 150, 100, 0, 2.0),  # visitors came, none converted
    hour(4, 200, 100, 2, 2.0),  # 2 % is under the 3 % target but within its band
    hour(5, 50, 50, 0, 1.0),  # too little traffic to call it a drop
]


def test_drop_hours_are_busy_hours_below_half_the_target() -> None:
    assert drop_hours(HOURS, target=0.03, min_pageviews=100) == {T0 + timedelta(hours=3)}
    assert drop_hours(HOURS, target=0.03, min_pageviews=0) == {T0 + timedelta(hours=3), T0 + timedelta(hours=5)}


def test_lost_leads_by_hand() -> None:
    down, dropped = T0 + timedelta(hours=2), T0 + timedelta(hours=3)
    rate, source = baseline_rate(HOURS, {down, dropped}, fallback=0.03)
    # Unaffected hours 0, 1, 4, 5: 8 leads from 350 visitors.
    assert source == "measured" and rate == pytest.approx(8 / 350)
    # Hour 2 lost its visitors too: the same hours of earlier weeks brought 2.5 leads.
    outage = loss([HOURS[2]], rate)
    assert (outage.expected, outage.actual, outage.lost) == (2.5, 0, 2.5)
    # Hour 3 kept its 100 visitors: 100 x 8/350 = 2.2857 expected (more than 2.0).
    drop = loss([HOURS[3]], rate)
    assert drop.expected == pytest.approx(800 / 350) and drop.lost == pytest.approx(800 / 350)
    both = loss([HOURS[2], HOURS[3]], rate)
    assert both.hours == 2 and both.lost == pytest.approx(2.5 + 800 / 350)
    # More leads than expected is no negative loss.
    assert loss([HOURS[0]], rate).lost == 0


def test_without_unaffected_traffic_the_target_is_the_baseline() -> None:
    assert baseline_rate(HOURS[2:4], {T0 + timedelta(hours=2), T0 + timedelta(hours=3)}, 0.03) == (0.03, "target")


def test_win_rate_and_deal_value_are_measured_with_enough_outcomes_else_set() -> None:
    rate, value = outcome_rates(won=6, lost=14, valued=6, won_value=30_000, min_outcomes=20,
                                win_rate=0.5, deal_value=1000)
    assert (rate["value"], rate["source"]) == (0.3, "measured")
    assert (value["value"], value["source"]) == (5000, "measured")
    revenue = loss([HOURS[2], HOURS[3]], 8 / 350).lost * rate["value"] * value["value"]
    assert revenue == pytest.approx((2.5 + 800 / 350) * 0.3 * 5000)  # 7,178.57

    rate, value = outcome_rates(won=6, lost=13, valued=6, won_value=30_000, min_outcomes=20,
                                win_rate=0.25, deal_value=None)
    assert (rate["value"], rate["source"]) == (0.25, "setting")
    assert (value["value"], value["source"]) == (None, None)


def test_hours_between_covers_partial_hours() -> None:
    assert hours_between(T0 + timedelta(minutes=50), T0 + timedelta(hours=1, minutes=10)) == [
        T0, T0 + timedelta(hours=1)]
    assert hours_between(T0, T0 + timedelta(hours=1)) == [T0]


def test_revenue_impact_end_to_end(settings_for: Any, backend: str) -> None:
    settings = settings_for(backend, security={"enabled": False},
                            marketing={"min_outcomes": 3, "sites": {"default": {"currency": "GBP"}}})
    start = utcnow().replace(minute=0, second=0, microsecond=0) - timedelta(hours=4)
    with TestClient(create_app(settings)) as client:
        runtime = client.app.state.runtime
        site = runtime.settings.sites[0]
        # Hours 0 and 2: four visitors each; hour 1: none (the site was down).
        for h, first in ((0, 1), (2, 5)):
            for n in range(first, first + 4):
                result = runtime.collector.collect(
                    site, [{"type": "pageview", "url": "https://rebootmedia.example/"}],
                    ip=f"198.51.100.{n}", user_agent=UA, received_at=start + timedelta(hours=h, minutes=5 + n))
                assert not result.rejected
        runtime.event_buffer.flush()

        def lead(at: datetime, status: str = "new", value: float | None = None) -> Lead:
            return Lead(site_id="default", name="A", email="a@example.com", created_at=at.replace(tzinfo=UTC),
                        status=status, won_value=value)

        with runtime.records.session() as session:
            session.add_all([
                lead(start + timedelta(minutes=20)), lead(start + timedelta(hours=2, minutes=30)),
                # The same hour as the outage one and two weeks earlier: 2 and 1 leads (1.5 a
                # week), which closed as 1 won (4,000) and 2 lost: a win rate of 1/3.
                lead(start + timedelta(hours=1, minutes=5) - timedelta(weeks=1), "won", 4000),
                lead(start + timedelta(hours=1, minutes=50) - timedelta(weeks=1), "lost"),
                lead(start + timedelta(hours=1, minutes=30) - timedelta(weeks=2), "lost"),
            ])
            session.add(Incident(
                dedup_key="k", title="SiteDown", severity="critical", source="embedded", status="resolved",
                group_labels={"alertname": "SiteDown"}, alerts=[], started_at=(start + timedelta(hours=1)).replace(tzinfo=UTC),
                opened_at=(start + timedelta(hours=1, minutes=10)).replace(tzinfo=UTC),
                resolved_at=(start + timedelta(hours=1, minutes=40)).replace(tzinfo=UTC), next_step=0, notified=[]))
            session.add(Incident(  # another site's incident is not this site's loss
                dedup_key="o", title="SiteDown", severity="critical", source="embedded", status="resolved",
                group_labels={"alertname": "SiteDown", "site": "other"}, alerts=[],
                started_at=start.replace(tzinfo=UTC), opened_at=start.replace(tzinfo=UTC),
                resolved_at=(start + timedelta(hours=3)).replace(tzinfo=UTC), next_step=0, notified=[]))

        params = {"site": "default", "from": start.isoformat() + "Z", "to": (start + timedelta(hours=3)).isoformat() + "Z"}
        impact = client.get("/api/v1/marketing/revenue-impact", headers=ADMIN, params=params).json()
        assert impact["estimate"] is True and impact["currency"] == "GBP" and impact["hours"] == 3
        # Baseline: 2 leads from 8 hourly visitors in the two unaffected hours.
        assert impact["baseline"] == {"conversion_rate": 0.25, "source": "measured", "weeks": 2}
        assert [i["title"] for i in impact["incidents"]] == ["SiteDown"]
        during = impact["during_incidents"]
        assert (during["hours"], during["expected_leads"], during["actual_leads"]) == (1, 1.5, 0)
        assert impact["win_rate"]["value"] == pytest.approx(1 / 3) and impact["deal_value"]["value"] == 4000
        assert impact["total"]["lost_leads"] == 1.5
        assert impact["total"]["lost_revenue"] == pytest.approx(2000)

        # Ending half-way through the outage hour: half of its baseline lead rate is expected.
        half = {**params, "to": (start + timedelta(hours=1, minutes=30)).isoformat() + "Z"}
        partial = client.get("/api/v1/marketing/revenue-impact", headers=ADMIN, params=half).json()
        assert partial["hours"] == 2 and partial["during_incidents"]["expected_leads"] == 0.75

        bad = client.get("/api/v1/marketing/revenue-impact", headers=ADMIN, params={**params, "channel": "Email"})
        assert bad.status_code == 422 and "query.channel" in bad.json()["error"]["fields"]
        ancient = client.get("/api/v1/marketing/revenue-impact", headers=ADMIN,
                             params={"site": "default", "from": "0001-01-02T00:00:00Z", "to": "0001-01-05T00:00:00Z"})
        assert ancient.status_code == 422 and "query.from" in ancient.json()["error"]["fields"]
