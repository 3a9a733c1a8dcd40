"""Channel (and campaign) ROI: the spend of a range against the leads, qualified and
won leads and won value the channel is credited with under an attribution model.

Credit is the attribution models' (``marketing/attribution.py``), over the same
journeys and lookback as ``/api/v1/analytics/attribution``, so the leads and value
here equal that API's for the same model. Cost per lead = spend / leads credited,
cost per won lead = spend / won leads credited, ROAS = won value / spend and
ROI = (won value - spend) / spend; each is None when its divisor is zero.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from typing import Any

from leadwatch.marketing import analytics
from leadwatch.marketing.attribution import MODELS
from leadwatch.store.records import RecordStore

QUALIFIED = ("qualified", "won")
MEASURES = ("leads", "qualified", "won", "value")


def credited(
    records: RecordStore, scope: analytics.Scope, lookback: timedelta, model: str, by: str = "channel"
) -> dict[str, dict[str, float]]:
    """Per channel (or campaign): leads, qualified leads, won leads and won value
    credited under ``model``."""
    credit: dict[str, dict[str, float]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0.0))
    for fact in analytics.leads_in(records, scope):
        touches = analytics.credited_touches(fact, lookback)
        for touch, share in zip(touches, MODELS[model](touches, fact.at), strict=True):
            row = credit[analytics.credit_key(touch, by)]
            row["leads"] += share
            row["qualified"] += share if fact.status in QUALIFIED else 0.0
            row["won"] += share if fact.status == "won" else 0.0
            row["value"] += share * (fact.won_value or 0.0)
    return dict(credit)


def _ratio(numerator: float, denominator: float) -> float | None:
    return numerator / denominator if denominator else None


def returns(spend: float, leads: float, qualified: float, won: float, value: float) -> dict[str, Any]:
    """One ROI row from its spend and credited outcomes."""
    return {
        "spend": spend, "leads": leads, "qualified": qualified, "won": won, "value": value,
        "cost_per_lead": _ratio(spend, leads),
        "cost_per_qualified": _ratio(spend, qualified),
        "cost_per_won": _ratio(spend, won),
        "roas": _ratio(value, spend),
        "roi": _ratio(value - spend, spend),
    }


def table(spent: dict[str, float], credit: dict[str, dict[str, float]]) -> dict[str, Any]:
    """ROI rows for every key with spend or credited leads (spend first, largest first)
    and the totals row."""
    keys = sorted(set(spent) | set(credit), key=lambda k: (-spent.get(k, 0.0), -credit.get(k, {}).get("leads", 0), k))
    empty = dict.fromkeys(MEASURES, 0.0)
    rows = [{"key": k, **returns(spent.get(k, 0.0), **credit.get(k, empty))} for k in keys]
    total = returns(sum(spent.values()), *(sum(c[m] for c in credit.values()) for m in MEASURES))
    return {"rows": rows, "total": total}
