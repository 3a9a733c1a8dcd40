"""A/B test analysis: the statistics against hand-computed and textbook values, their
properties, and GET /api/v1/analytics/experiments end to end (exposures through
/collect, leads in the record store) on DuckDB and PostgreSQL (the ``client`` fixture
runs every test on both backends), with the Marketing page showing the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.app import create_app
from leadwatch.leads.models import Lead
from leadwatch.marketing.experiments import (
    _srm,
    control_of,
    holm,
    sample_ratio_mismatch,
    sample_size,
    two_proportion_p_value,
    wilson_interval,
)
from leadwatch.settings import ExperimentSettings, Settings
from leadwatch.store.schema import utcnow
from tests.conftest import ADMIN
from tests.dashboards.conftest import as_tester

SITE = "https://rebootmedia.example"
DAY = datetime(2026, 11, 10)
RANGE = {"site": "default", "from": "2026-11-10T00:00:00", "to": "2026-11-12T00:00:00"}
UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/131.0.0.0 Safari/537.36")


# ---- statistics ----


def test_wilson_interval_textbook_values() -> None:
    # 81 successes in 263 trials: the worked example of the Wilson interval
    # (Newcombe 1998, method 3): 0.2553 to 0.3662.
    low, high = wilson_interval(81, 263)  # type: ignore[misc]
    assert (low, high) == pytest.approx((0.2553, 0.3662), abs=1e-4)
    # 0 of 10: [0, z²/(n+z²)] = [0, 3.8415/13.8415] = [0, 0.2775]; the Wald interval would be [0, 0].
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_two_proportion_z_test_by_hand() -> None:
    # 200/1000 against 250/1000: pooled p = 0.225, se = sqrt(0.225·0.775·(2/1000))
    # = 0.0186748, z = -0.05 / 0.0186748 = -2.6774, two-sided p = erfc(2.6774/√2) = 0.00742.
    assert two_proportion_p_value(200, 1000, 250, 1000) == pytest.approx(0.00742, abs=1e-5)
    # Equal rates: z = 0, p = 1. Both 0 %: no variance, no evidence, p = 1.
    assert two_proportion_p_value(30, 300, 10, 100) == pytest.approx(1.0)
    assert two_proportion_p_value(0, 50, 0, 80) == 1.0
    assert two_proportion_p_value(1, 0, 1, 10) is None


def test_sample_ratio_mismatch() -> None:
    # 5000 vs 5300: chi² = 2·150²/5150 = 8.738, p = 0.0031: unlucky, not broken.
    srm = sample_ratio_mismatch([5000, 5300])
    assert srm is not None
    assert srm["chi_square"] == pytest.approx(8.7379, abs=1e-4) and not srm["mismatch"]
    # 5000 vs 5400: chi² = 15.38, p = 0.00009: the split is broken.
    assert sample_ratio_mismatch([5000, 5400])["mismatch"]  # type: ignore[index]
    assert sample_ratio_mismatch([1000, 1010, 990])["mismatch"] is False  # type: ignore[index]
    assert sample_ratio_mismatch([10]) is None and sample_ratio_mismatch([0, 0]) is None


def test_sample_ratio_mismatch_against_the_intended_split() -> None:
    # 9,000 vs 1,000 is exactly a 90/10 test, and far from an equal split.
    assert sample_ratio_mismatch([9000, 1000], [90, 10])["mismatch"] is False  # type: ignore[index]
    assert sample_ratio_mismatch([9000, 1000], [0.9, 0.1])["p_value"] == pytest.approx(1.0)  # type: ignore[index]
    assert sample_ratio_mismatch([9000, 1000])["mismatch"]  # type: ignore[index]
    # 5,000 vs 5,000 in a test meant to be 60/40: broken.
    assert sample_ratio_mismatch([5000, 5000], [60, 40])["mismatch"]  # type: ignore[index]


def test_a_configured_variant_without_traffic_is_a_mismatch() -> None:
    config = ExperimentSettings(weights={"cta": {"control": 50, "green": 25, "red": 25}})
    broken = _srm("cta", ["control", "green"], [5000, 2500], config)  # red got nobody
    assert broken is not None and broken["mismatch"] and broken["p_value"] < 1e-6
    fine = _srm("cta", ["control", "green", "red"], [5000, 2500, 2500], config)
    assert fine is not None and fine["p_value"] == pytest.approx(1.0)
    assert _srm("cta", ["control", "green", "blue"], [5000, 2500, 10], config) is None  # blue: no share
    # Unconfigured: an equal split over the variants seen in the range.
    assert _srm("hero", ["a", "b", "c"], [1000, 1010, 0], config)["mismatch"] is False  # type: ignore[index]


def test_holm_by_hand() -> None:
    # m = 3: 0.01·3 = 0.03; 0.03·2 = 0.06; 0.04·1 = 0.04, raised to the 0.06 before it.
    assert holm([None, 0.04, 0.01, 0.03]) == [None, pytest.approx(0.06), pytest.approx(0.03), pytest.approx(0.06)]
    assert holm([None, 0.02]) == [None, 0.02]  # one comparison: unchanged
    assert holm([0.5, 0.6, 0.9]) == [1.0, 1.0, 1.0]  # capped at 1
    assert holm([]) == [] and holm([None]) == [None]


@given(st.lists(st.one_of(st.none(), st.floats(min_value=0, max_value=1)), max_size=12))
def test_holm_never_lowers_a_p_value_and_keeps_their_order(p_values: list[float | None]) -> None:
    adjusted = holm(p_values)
    tested = [(p, a) for p, a in zip(p_values, adjusted, strict=True) if p is not None]
    assert all(a is None for p, a in zip(p_values, adjusted, strict=True) if p is None)
    assert all(p <= a <= 1.0 for p, a in tested)  # type: ignore[operator]
    for p1, a1 in tested:
        for p2, a2 in tested:
            if p1 < p2:
                assert a1 <= a2  # type: ignore[operator]


def test_sample_size() -> None:
    # Baseline 10 %, +20 % relative (12 %), alpha 0.05 two-sided, power 0.8: 3,841 per
    # variant (the figure of Evan Miller's sample size calculator for these inputs).
    assert sample_size(0.10, 0.2, 0.05, 0.8) == 3841
    # Smaller effects, lower baselines, more power and a stricter alpha all need more.
    assert sample_size(0.10, 0.1, 0.05, 0.8) > 3841  # type: ignore[operator]
    assert sample_size(0.05, 0.2, 0.05, 0.8) > 3841  # type: ignore[operator]
    assert sample_size(0.10, 0.2, 0.05, 0.9) > 3841  # type: ignore[operator]
    assert sample_size(0.10, 0.2, 0.01, 0.8) > 3841  # type: ignore[operator]
    assert sample_size(0.0, 0.2, 0.05, 0.8) is None and sample_size(0.9, 0.2, 0.05, 0.8) is None


counts = st.integers(min_value=0, max_value=100_000)


@given(x1=counts, n1=counts, x2=counts, n2=counts)
def test_p_value_is_a_probability_and_symmetric(x1: int, n1: int, x2: int, n2: int) -> None:
    x1, x2 = min(x1, n1), min(x2, n2)
    p = two_proportion_p_value(x1, n1, x2, n2)
    if n1 == 0 or n2 == 0:
        assert p is None
        return
    assert p is not None and 0.0 <= p <= 1.0
    assert two_proportion_p_value(x2, n2, x1, n1) == pytest.approx(p, rel=1e-12, abs=1e-300)


@given(n=st.integers(min_value=1, max_value=10**7), share=st.floats(min_value=0, max_value=1))
def test_wilson_interval_holds_the_estimate(n: int, share: float) -> None:
    x = round(n * share)
    low, high = wilson_interval(x, n)  # type: ignore[misc]
    assert 0.0 <= low <= x / n + 1e-12 and x / n - 1e-12 <= high <= 1.0


def test_control_is_configured_then_named_control_then_first() -> None:
    config = ExperimentSettings(controls={"hero": "blue"})
    assert control_of("hero", ["red", "blue"], config) == "blue"
    assert control_of("cta", ["b", "control", "a"], config) == "control"
    assert control_of("cta", ["b", "a"], config) == "a"


# ---- through the app ----


def collect(client: TestClient, ip: str, at: datetime, events: list[dict[str, Any]]) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    site = runtime.settings.sites[0]
    result = runtime.collector.collect(site, events, ip=ip, user_agent=UA, received_at=at)
    assert not result.rejected


def contact_view(variant: str) -> list[dict[str, Any]]:
    return [{"type": "pageview", "url": SITE + "/contact"},
            {"type": "experiment", "name": "cta", "props": {"variant": variant}, "url": SITE + "/contact"}]


def add_lead(client: TestClient, at: datetime, experiments: dict[str, str] | None,
             won: float | None = None, rejected: str | None = None) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    with runtime.records.session() as session:
        session.add(Lead(site_id="default", created_at=at.replace(tzinfo=UTC), name="A",
                         email="a@example.com", experiments=experiments, rejected_reason=rejected,
                         status="won" if won else "new", won_value=won))


def get(client: TestClient, **params: Any) -> dict[str, Any]:
    r = client.get("/api/v1/analytics/experiments", params={**RANGE, **params}, headers=ADMIN)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture
def loaded(client: TestClient) -> TestClient:
    """On 2026-11-10: 8 visitors see the ``cta`` test, 4 ``control`` and 4 ``green``
    (one ``control`` visitor twice in a session, another again the next day: a new daily
    key); 1 lead carries control, 2 carry green (one won, 5,000), and a spam
    submission carrying green is left out. A second test, ``hero``, has one lead only."""
    t = DAY + timedelta(hours=10)
    for i in range(8):
        ip = f"198.51.100.{i + 1}"
        collect(client, ip, t + timedelta(minutes=i), contact_view("control" if i < 4 else "green"))
        if i == 0:  # the same page again, later that day: the same visitor
            collect(client, ip, t + timedelta(hours=3), contact_view("control"))
        if i == 1:  # the next day: a new daily visitor key
            collect(client, ip, t + timedelta(days=1), contact_view("control"))
    client.app.state.runtime.event_buffer.flush()  # type: ignore[attr-defined]
    add_lead(client, t + timedelta(minutes=5), {"cta": "control", "hero": "a"})
    add_lead(client, t + timedelta(minutes=6), {"cta": "green"}, won=5000.0)
    add_lead(client, t + timedelta(minutes=7), {"cta": "green"})
    add_lead(client, t + timedelta(minutes=8), {"cta": "green"}, rejected="spam_honeypot")
    add_lead(client, t + timedelta(minutes=9), None)
    return client


def test_analysis_per_experiment_and_variant(loaded: TestClient) -> None:
    body = get(loaded)
    assert body["alpha"] == 0.05
    assert [e["name"] for e in body["experiments"]] == ["cta", "hero"]
    cta = body["experiments"][0]
    assert (cta["control"], cta["visitors"], cta["leads"], cta["won_value"]) == ("control", 9, 3, 5000)
    control, green = cta["variants"]
    assert (control["variant"], control["control"], control["visitors"], control["leads"]) == (
        "control", True, 5, 1)
    assert (green["variant"], green["visitors"], green["leads"], green["won"], green["won_value"]) == (
        "green", 4, 2, 1, 5000)
    assert control["conversion_rate"] == pytest.approx(1 / 5) and green["conversion_rate"] == 0.5
    assert (green["ci_low"], green["ci_high"]) == pytest.approx(wilson_interval(2, 4))
    assert green["lift"] == pytest.approx(0.5 / 0.2 - 1)
    assert green["p_value"] == pytest.approx(two_proportion_p_value(2, 4, 1, 5))
    assert green["significant"] is False and control["p_value"] is None and control["lift"] is None
    assert cta["srm"]["chi_square"] == pytest.approx((0.5**2 + 0.5**2) / 4.5)
    assert cta["srm"]["mismatch"] is False
    size = cta["sample_size"]
    assert size["per_variant"] == sample_size(0.2, 0.1, 0.05, 0.8)
    assert size["visitors_to_go"] == size["per_variant"] - 4
    # At the range's pace (4 visitors of the smaller variant in 2 days).
    assert size["days_to_go"] == pytest.approx(size["visitors_to_go"] / 2)
    hero = body["experiments"][1]
    assert [(v["variant"], v["visitors"], v["leads"], v["conversion_rate"]) for v in hero["variants"]] == [
        ("a", 0, 1, None)]
    assert hero["srm"] is None and hero["sample_size"]["per_variant"] is None


def test_the_range_applies(loaded: TestClient) -> None:
    first_day = get(loaded, to="2026-11-11T00:00:00")["experiments"][0]
    assert [v["visitors"] for v in first_day["variants"]] == [4, 4]
    assert get(loaded, **{"from": "2026-11-12T00:00:00", "to": "2026-11-13T00:00:00"})["experiments"] == []


def test_configured_control_and_alpha(settings_for: Any, backend: str) -> None:
    settings: Settings = settings_for(backend, collect={"experiments": {
        "controls": {"cta": "green"}, "alpha": 0.3, "minimum_effect": 0.5, "power": 0.9}})
    with TestClient(create_app(settings)) as client:
        t = DAY + timedelta(hours=9)
        for i in range(20):
            collect(client, f"203.0.113.{i + 1}", t, contact_view("control" if i % 2 else "green"))
        client.app.state.runtime.event_buffer.flush()  # type: ignore[attr-defined]
        for _ in range(6):
            add_lead(client, t, {"cta": "control"})
        add_lead(client, t, {"cta": "green"})
        cta = get(client)["experiments"][0]
    assert cta["control"] == "green" and [v["variant"] for v in cta["variants"]] == ["green", "control"]
    treated = cta["variants"][1]
    # 6/10 against 1/10: p = 0.0177 by the pooled z-test; below alpha 0.3 and 0.05 alike.
    assert treated["p_value"] == pytest.approx(two_proportion_p_value(6, 10, 1, 10))
    assert treated["significant"] and treated["lift"] == pytest.approx(5.0)
    needed = sample_size(0.1, 0.5, 0.3, 0.9)
    assert needed is not None and needed > 10
    assert cta["sample_size"] == {"per_variant": needed, "visitors_to_go": needed - 10,
                                  "days_to_go": pytest.approx((needed - 10) / 5),
                                  "minimum_effect": 0.5, "power": 0.9}


def test_three_variants_are_judged_together_against_the_intended_split(settings_for: Any, backend: str) -> None:
    settings: Settings = settings_for(backend, collect={"experiments": {
        "alpha": 0.04, "weights": {"cta": {"control": 2, "green": 1, "red": 1}}}})
    with TestClient(create_app(settings)) as client:
        t = DAY + timedelta(hours=9)
        arms = ["control"] * 40 + ["green"] * 20 + ["red"] * 20  # the intended 2:1:1
        for i, arm in enumerate(arms):
            collect(client, f"203.0.113.{i + 1}", t, contact_view(arm))
        client.app.state.runtime.event_buffer.flush()  # type: ignore[attr-defined]
        for arm, leads in (("control", 2), ("green", 5), ("red", 4)):
            for _ in range(leads):
                add_lead(client, t, {"cta": arm})
        cta = get(client)["experiments"][0]
    assert cta["srm"]["p_value"] == pytest.approx(1.0) and not cta["srm"]["mismatch"]
    control, green, red = cta["variants"]
    # 5/20 and 4/20 against 2/40: p = 0.0229 and 0.0679 by the pooled z-test.
    assert green["p_value"] == pytest.approx(0.02291, abs=1e-5) and red["p_value"] == pytest.approx(0.06789, abs=1e-5)
    # Holm: the smaller doubled (0.0458), the larger kept. Green alone would pass at
    # alpha 0.04; one of two comparisons, it does not.
    assert green["p_value_adjusted"] == pytest.approx(2 * green["p_value"])
    assert red["p_value_adjusted"] == pytest.approx(red["p_value"])
    assert control["p_value_adjusted"] is None
    assert not green["significant"] and not red["significant"]


def test_exposures_through_collect_count_once_per_visitor_day(client: TestClient) -> None:
    """The snippet's events as it sends them, over HTTP: the page view, then the
    exposure; a second page view of the same visitor counts no second visitor."""
    def post(ua: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        r = client.post("/collect?site=default", content=orjson.dumps(events),
                        headers={"content-type": "text/plain", "user-agent": ua})
        assert r.status_code == 202, r.text
        return r.json()

    for ua in (UA, UA + " one", UA + " two"):
        assert post(ua, contact_view("b" if ua == UA else "a"))["accepted"] == 2
    assert post(UA, contact_view("b"))["accepted"] == 2
    bad = post(UA, [
        {"type": "experiment", "name": "cta", "url": SITE + "/"},
        {"type": "experiment", "name": "no spaces", "props": {"variant": "a"}, "url": SITE + "/"},
        {"type": "experiment", "name": "cta", "props": {"variant": 7}, "url": SITE + "/"},
    ])
    assert bad["accepted"] == 0
    assert [r["detail"].split(":")[0] for r in bad["rejected"]] == ["props.variant", "name", "props.variant"]
    client.app.state.runtime.event_buffer.flush()  # type: ignore[attr-defined]
    now = utcnow()
    body = get(client, **{"from": (now - timedelta(hours=1)).isoformat(),
                          "to": (now + timedelta(hours=1)).isoformat()})
    (cta,) = body["experiments"]
    assert {v["variant"]: v["visitors"] for v in cta["variants"]} == {"a": 2, "b": 1}


def marketing_page(client: TestClient) -> str:
    as_tester(client.app)  # type: ignore[arg-type]
    r = client.get("/ui/marketing", params={"site": "default", "range": "custom",
                                            "from": "2026-11-10T00:00", "to": "2026-11-12T00:00"})
    assert r.status_code == 200, r.text
    return r.text


def test_no_experiments_no_section(client: TestClient) -> None:
    assert get(client)["experiments"] == []
    assert "A/B tests" not in marketing_page(client)


def test_marketing_page_shows_the_api_numbers(loaded: TestClient) -> None:
    html = marketing_page(loaded)
    assert "A/B tests" in html and "cta" in html
    green = next(v for v in get(loaded)["experiments"][0]["variants"] if v["variant"] == "green")
    assert f"{green['conversion_rate'] * 100:.2f} % ({green['ci_low'] * 100:.2f}–{green['ci_high'] * 100:.2f} %)" in html
    assert 'data-key="ab-result-cta-green">not significant<' in html
    assert "srm-cta" not in html


def test_bad_parameters_are_4xx_naming_the_field(client: TestClient) -> None:
    url = "/api/v1/analytics/experiments"
    assert client.get(url, params={"site": "default"}).status_code == 401
    r = client.get(url, params={"site": "nope"}, headers=ADMIN)
    assert r.status_code == 404 and "query.site" in r.json()["error"]["fields"]
    r = client.get(url, params={**RANGE, "from": "2026-11-13"}, headers=ADMIN)
    assert r.status_code == 422 and "query.from" in r.json()["error"]["fields"]
    r = client.get(url, params={**RANGE, "to": "yesterday"}, headers=ADMIN)
    assert r.status_code == 422 and "query.to" in r.json()["error"]["fields"]
    assert client.get(url, headers=ADMIN).status_code == 422
