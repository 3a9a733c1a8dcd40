"""The lead-scoring model the business specified: a weighted sum of four sub-scores
(traffic source, engagement, form completion, demographics), each 0-100, giving a
score 0-100 and a tier. Weights and tables come from ``leads.scoring``; the model
version is a digest of them, so a stored score names the exact model that made it
and ``leadwatch leads rescore`` can tell which leads a model change affects."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import orjson

from leadwatch.settings import FACTORS, LeadSiteSettings, ScoringSettings

MODEL = "lw1"
# Lowest score of each tier, best first.
TIER_FLOORS = (("premium", 90), ("high", 70), ("standard", 50), ("low", 30), ("poor", 0))
# Shares of the engagement sub-score and of the demographics sub-score.
TIME_SHARE, PAGES_SHARE, DOWNLOAD_SHARE = 40.0, 40.0, 20.0
SIZE_SHARE, INDUSTRY_SHARE, COUNTRY_SHARE = 0.4, 0.3, 0.3


@dataclass(frozen=True)
class Engagement:
    """What the visitor did on the site before submitting, over their sessions
    (leadwatch.leads.engagement): active seconds, page views, downloads. ``sessions``
    only explains the numbers; it is not scored."""

    seconds_on_site: float = 0.0
    pages_viewed: int = 0
    downloads: int = 0
    sessions: int = 0


@dataclass(frozen=True)
class ScoreInput:
    channel: str
    phone: bool = False
    company: bool = False
    budget: bool = False
    company_size: str | None = None
    industry: str | None = None
    country: str | None = None
    engagement: Engagement | None = None


@dataclass(frozen=True)
class Score:
    total: int
    tier: str
    factors: dict[str, float]  # factor -> sub-score 0-100
    source: str  # the traffic source the channel counts as
    model_version: str
    engagement: Engagement | None = None  # the session data scored; None: neutral

    def breakdown(self, weights: dict[str, float]) -> dict[str, Any]:
        """What the score is made of: per factor its sub-score, weight and points, and
        the engagement data used (what ``leadwatch leads rescore`` scores again)."""
        return {
            "model_version": self.model_version,
            "source": self.source,
            "engagement": asdict(self.engagement) if self.engagement else None,
            "factors": {
                f: {"score": round(self.factors[f], 2), "weight": weights[f],
                    "points": round(self.factors[f] * weights[f] / 100, 2)}
                for f in FACTORS
            },
            "total": self.total,
        }


def tier_of(total: int) -> str:
    for tier, floor in TIER_FLOORS:
        if total >= floor:
            return tier
    return "poor"


@cache
def _version(settings_json: bytes) -> str:
    return f"{MODEL}-{hashlib.sha256(settings_json).hexdigest()[:10]}"


def model_version(scoring: ScoringSettings) -> str:
    return _version(orjson.dumps(scoring.model_dump(mode="json"), option=orjson.OPT_SORT_KEYS))


def source_score(channel: str, s: ScoringSettings) -> tuple[str, float]:
    source = s.channel_sources.get(channel, "unknown")
    return source, s.source_scores.get(source, s.source_scores["unknown"])


def engagement_score(e: Engagement | None, s: ScoringSettings) -> float:
    if e is None:
        return s.engagement_neutral
    return (
        TIME_SHARE * min(max(e.seconds_on_site, 0.0) / s.engagement_full_seconds, 1.0)
        + PAGES_SHARE * min(max(e.pages_viewed, 0) / s.engagement_full_pages, 1.0)
        + (DOWNLOAD_SHARE if e.downloads > 0 else 0.0)
    )


def completion_score(i: ScoreInput, s: ScoringSettings) -> float:
    total = s.completion_base
    total += s.completion_phone if i.phone else 0
    total += s.completion_company if i.company else 0
    total += s.completion_budget if i.budget else 0
    return min(total, 100.0)


def _target(value: str | None, targets: list[str], s: ScoringSettings) -> float:
    # Without configured targets there is nothing to match: neutral, not a miss.
    if not value or not targets:
        return s.demographic_unknown
    return s.demographic_match if value in targets else s.demographic_miss


def demographics_score(i: ScoreInput, site: LeadSiteSettings, s: ScoringSettings) -> float:
    size = s.company_size_scores.get(i.company_size or "", s.demographic_unknown)
    industry = _target(i.industry.strip().casefold() if i.industry else None,
                       site.target_industries, s)
    country = _target(i.country.upper() if i.country else None, site.target_countries, s)
    return SIZE_SHARE * size + INDUSTRY_SHARE * industry + COUNTRY_SHARE * country


def score_lead(i: ScoreInput, site: LeadSiteSettings, s: ScoringSettings) -> Score:
    source, source_points = source_score(i.channel, s)
    factors = {
        "source": float(source_points),
        "engagement": engagement_score(i.engagement, s),
        "completion": completion_score(i, s),
        "demographics": demographics_score(i, site, s),
    }
    weighted = sum(factors[f] * s.weights[f] / 100 for f in FACTORS)
    total = max(0, min(100, round(weighted)))
    return Score(total, tier_of(total), factors, source, model_version(s), i.engagement)


def stored_engagement(breakdown: dict[str, Any] | None) -> Engagement | None:
    """The engagement a stored breakdown was scored with (None for neutral)."""
    data = (breakdown or {}).get("engagement")
    return Engagement(**data) if data else None
