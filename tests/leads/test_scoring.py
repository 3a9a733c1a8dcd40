"""The scoring model: bounds, monotonicity and tier boundaries, as properties."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from leadwatch.leads.scoring import (
    TIER_FLOORS, Engagement, ScoreInput, model_version, score_lead, tier_of,
)
from leadwatch.marketing.channels import CHANNELS
from leadwatch.settings import LeadSiteSettings, ScoringSettings

SCORING = ScoringSettings()
SITE = LeadSiteSettings(target_industries=["software"], target_countries=["GB", "DE"])

inputs = st.builds(
    ScoreInput,
    channel=st.sampled_from(CHANNELS),
    phone=st.booleans(),
    company=st.booleans(),
    budget=st.booleans(),
    company_size=st.one_of(st.none(), st.sampled_from(["1-10", "11-50", "51-200", "201-1000", "1001+", "huge"])),
    industry=st.one_of(st.none(), st.sampled_from(["Software", "retail", " software "])),
    country=st.one_of(st.none(), st.sampled_from(["GB", "us", "de"])),
    engagement=st.one_of(st.none(), st.builds(
        Engagement,
        seconds_on_site=st.floats(min_value=-10, max_value=1e6, allow_nan=False),
        pages_viewed=st.integers(min_value=-1, max_value=10_000),
        downloads=st.integers(min_value=0, max_value=50),
    )),
)


@given(inputs)
def test_scores_and_sub_scores_stay_within_0_and_100(i: ScoreInput) -> None:
    score = score_lead(i, SITE, SCORING)
    assert 0 <= score.total <= 100
    assert all(0 <= v <= 100 for v in score.factors.values())
    assert score.tier == tier_of(score.total)


@given(inputs, st.sampled_from(["phone", "company", "budget"]))
def test_giving_more_never_lowers_the_score(i: ScoreInput, field: str) -> None:
    without = score_lead(replace(i, **{field: False}), SITE, SCORING)
    with_it = score_lead(replace(i, **{field: True}), SITE, SCORING)
    assert with_it.total >= without.total


@given(inputs, st.floats(min_value=0, max_value=1e5), st.integers(0, 100))
def test_more_engagement_never_lowers_the_score(i: ScoreInput, more_seconds: float, more_pages: int) -> None:
    base = i.engagement or Engagement()
    more = Engagement(base.seconds_on_site + more_seconds, base.pages_viewed + more_pages, base.downloads)
    assert score_lead(replace(i, engagement=more), SITE, SCORING).total >= score_lead(
        replace(i, engagement=base), SITE, SCORING).total


@given(st.integers(0, 100))
def test_tier_boundaries(total: int) -> None:
    expected = next(t for t, floor in TIER_FLOORS if total >= floor)
    assert tier_of(total) == expected
    floors = dict(TIER_FLOORS)
    assert tier_of(floors[expected]) == expected
    if floors[expected] > 0:
        assert tier_of(floors[expected] - 1) != expected


def test_the_business_table() -> None:
    # Organic (85), neutral engagement (50), everything filled (100), a target company of
    # the best size in a target country and industry (100): 25.5 + 12.5 + 25 + 20 = 83.
    i = ScoreInput(channel="Organic Search", phone=True, company=True, budget=True,
                   company_size="201-1000", industry="software", country="GB")
    score = score_lead(i, SITE, SCORING)
    assert score.factors == {"source": 85, "engagement": 50, "completion": 100, "demographics": 100}
    assert (score.total, score.tier) == (83, "high")
    # Required fields only: base 55.
    bare = score_lead(ScoreInput(channel="Paid Search"), SITE, SCORING)
    assert bare.factors["completion"] == 55 and bare.factors["source"] == 60
    full = Engagement(seconds_on_site=600, pages_viewed=9, downloads=1)
    assert score_lead(replace(i, engagement=full), SITE, SCORING).tier == "premium"


def test_the_model_version_follows_the_settings() -> None:
    changed = ScoringSettings(completion_phone=20)
    assert model_version(SCORING) == model_version(ScoringSettings())
    assert model_version(changed) != model_version(SCORING)
    assert score_lead(ScoreInput(channel="Direct"), SITE, changed).model_version == model_version(changed)
