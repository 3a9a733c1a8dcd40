"""A/B test analysis: per experiment and variant, the visitors exposed, the leads
that carried the variant, conversion with a Wilson interval, lift and a two-proportion
z-test against the control, a sample-ratio-mismatch check and the sample size still
needed. The same numbers on DuckDB and PostgreSQL.

Exposures are ``experiment`` events of /lw.js (``lw('experiment', name, variant)``):
``name`` is the experiment, ``props.variant`` the variant. Leads carry their
assignments in ``experiments`` (the form's ``exp_<name>`` fields). Visitors are
distinct daily visitor keys, as everywhere in the analytics.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC
from statistics import NormalDist
from typing import Any

from sqlalchemy import select

from leadwatch.leads.models import Lead
from leadwatch.marketing.analytics import Scope
from leadwatch.settings import ExperimentSettings
from leadwatch.store.events import EventStore
from leadwatch.store.records import RecordStore

Z95 = NormalDist().inv_cdf(0.975)
SRM_P_VALUE = 0.001  # the usual threshold: a mismatch this unlikely means broken assignment
# Names and variants as lead intake accepts them in exp_<name> fields (leads/form.py).
KEY = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def exposure_problem(name: str | None, props: dict[str, Any] | None) -> str | None:
    """What is wrong with an ``experiment`` event of /collect, or None."""
    variant = (props or {}).get("variant")
    if not (name and KEY.fullmatch(name)):
        return "name: an experiment's name is 1-64 of A-Z a-z 0-9 _ . : -"
    if not (isinstance(variant, str) and KEY.fullmatch(variant)):
        return "props.variant: an experiment's variant is 1-64 of A-Z a-z 0-9 _ . : -"
    return None


# ---- statistics ----


def wilson_interval(successes: int, trials: int) -> tuple[float, float] | None:
    """The 95 % Wilson score interval of a proportion; None without trials. Unlike the
    normal approximation it stays inside [0, 1] and works at 0 or n successes."""
    if trials <= 0:
        return None
    from scipy.stats import binomtest  # scipy.stats takes ~0.6 s to import: only when asked

    ci = binomtest(successes, trials).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def two_proportion_p_value(x1: int, n1: int, x2: int, n2: int) -> float | None:
    """Two-sided p-value of the pooled two-proportion z-test (H0: equal rates)."""
    if n1 <= 0 or n2 <= 0:
        return None
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:  # both 0 % or both 100 %: no evidence of a difference
        return 1.0
    z = (x1 / n1 - x2 / n2) / se
    return min(1.0, math.erfc(abs(z) / math.sqrt(2)))


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjustment of p-values tested together (None: not tested): the
    i-th smallest of m is multiplied by m - i + 1, and never falls below the one before.
    A variant significant after it keeps the chance of any false "significant" among
    the comparisons at alpha, whatever their number; with one comparison it changes
    nothing."""
    tested = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    adjusted: list[float | None] = [None] * len(p_values)
    floor = 0.0
    for rank, (p, i) in enumerate(tested):
        floor = max(floor, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = floor
    return adjusted


def sample_ratio_mismatch(visitors: list[int], weights: list[float] | None = None) -> dict[str, Any] | None:
    """Chi-square goodness of fit of the visitors per variant against the intended split
    (``weights``, in any unit; default equal)."""
    total = sum(visitors)
    if len(visitors) < 2 or total == 0:
        return None
    from scipy.stats import chisquare

    expected = None
    if weights is not None:
        expected = [total * w / sum(weights) for w in weights]
    chi2, p = chisquare(visitors, expected)
    return {"chi_square": float(chi2), "p_value": float(p), "mismatch": bool(p < SRM_P_VALUE)}


def sample_size(baseline: float, minimum_effect: float, alpha: float, power: float) -> int | None:
    """Visitors per variant for a two-sided two-proportion z-test at ``alpha`` to detect
    a relative lift of ``minimum_effect`` over ``baseline`` with ``power``:
    n = (z_{1-α/2}·√(2·p̄(1-p̄)) + z_{1-β}·√(p1(1-p1) + p2(1-p2)))² / (p2 - p1)²,
    p1 = baseline, p2 = p1·(1 + effect), p̄ = (p1 + p2) / 2. None when it cannot be
    said (no baseline, or p2 would reach 100 %)."""
    p1 = baseline
    p2 = p1 * (1 + minimum_effect)
    if not 0 < p1 < 1 or p2 >= 1:
        return None
    normal = NormalDist()
    za, zb = normal.inv_cdf(1 - alpha / 2), normal.inv_cdf(power)
    mean = (p1 + p2) / 2
    root = za * math.sqrt(2 * mean * (1 - mean)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))
    return math.ceil(root**2 / (p2 - p1) ** 2)


# ---- data ----


@dataclass
class _Variant:
    visitors: int = 0
    leads: int = 0
    won: int = 0
    won_value: float = 0.0


def exposures(events: EventStore, scope: Scope) -> list[dict[str, Any]]:
    """Distinct (daily) visitors per experiment and variant."""
    where, params = scope.where()
    variant = events.dialect.json_field("props", "variant")
    return events.query(
        f"SELECT name, {variant} AS variant, count(DISTINCT visitor_id) AS visitors FROM events "
        f"WHERE {where} AND type = 'experiment' AND name IS NOT NULL AND {variant} IS NOT NULL "
        "GROUP BY 1, 2",
        params,
    )


def _leads(records: RecordStore, scope: Scope) -> list[tuple[dict[str, str], str, float | None]]:
    """(experiments, status, won value) of the accepted leads of the scope that carry
    experiment assignments."""
    start, end = scope.start.replace(tzinfo=UTC), scope.end.replace(tzinfo=UTC)
    with records.session() as session:
        rows = session.execute(
            select(Lead.experiments, Lead.status, Lead.won_value).where(
                Lead.site_id == scope.site_id,
                Lead.created_at >= start,
                Lead.created_at < end,
                Lead.rejected_reason.is_(None),
                Lead.experiments.is_not(None),
            )
        ).all()
    return [(dict(e), status, value) for e, status, value in rows if isinstance(e, dict) and e]


def control_of(name: str, variants: list[str], settings: ExperimentSettings) -> str:
    """The configured control, else a variant called ``control``, else the first by name."""
    for wanted in (settings.controls.get(name), "control"):
        if wanted in variants:
            return wanted
    return min(variants)


def experiments(
    events: EventStore, records: RecordStore, scope: Scope, settings: ExperimentSettings
) -> list[dict[str, Any]]:
    """Every experiment with exposures or leads in the scope, by name."""
    found: dict[str, dict[str, _Variant]] = defaultdict(lambda: defaultdict(_Variant))
    for row in exposures(events, scope):
        found[row["name"]][row["variant"]].visitors = int(row["visitors"])
    for assignments, status, value in _leads(records, scope):
        for name, variant in assignments.items():
            v = found[name][variant]
            v.leads += 1
            if status == "won":
                v.won += 1
                v.won_value += value or 0.0
    days = (scope.end - scope.start).total_seconds() / 86_400
    return [_analyse(name, found[name], settings, days) for name in sorted(found)]


def _srm(name: str, variants: list[str], visitors: list[int], settings: ExperimentSettings) -> dict[str, Any] | None:
    """The mismatch check. With a configured split: over every configured variant, one
    without exposures counting zero (an arm that gets no traffic is the plainest sign of
    broken assignment); a variant with exposures that the configuration does not name
    has no intended share, so then it cannot be checked. Without one: an equal split
    over the variants with exposures in the range (a variant seen only in leads, say
    one stopped before the range, says nothing about this range's split)."""
    seen = dict(zip(variants, visitors, strict=True))
    shares = settings.weights.get(name)
    if shares is None:
        return sample_ratio_mismatch([n for n in visitors if n])
    if any(n and v not in shares for v, n in seen.items()):
        return None
    return sample_ratio_mismatch([seen.get(v, 0) for v in shares], list(shares.values()))


def _analyse(
    name: str, variants: dict[str, _Variant], settings: ExperimentSettings, days: float
) -> dict[str, Any]:
    control = control_of(name, list(variants), settings)
    ordered = [control, *sorted(v for v in variants if v != control)]
    base = variants[control]
    # A lead can come from a visitor exposed before the range (or under another day's
    # key): the statistics count at most one conversion per exposed visitor.
    base_x = min(base.leads, base.visitors)
    rows = []
    for key in ordered:
        v = variants[key]
        x = min(v.leads, v.visitors)
        rate = x / v.visitors if v.visitors else None
        low, high = wilson_interval(x, v.visitors) or (None, None)
        row: dict[str, Any] = {
            "variant": key, "control": key == control, "visitors": v.visitors, "leads": v.leads,
            "conversion_rate": rate, "ci_low": low, "ci_high": high,
            "lift": None, "p_value": None, "p_value_adjusted": None, "significant": False,
            "won": v.won, "won_value": round(v.won_value, 2),
        }
        if key != control:
            base_rate = base_x / base.visitors if base.visitors else None
            if rate is not None and base_rate:
                row["lift"] = rate / base_rate - 1
            row["p_value"] = two_proportion_p_value(x, v.visitors, base_x, base.visitors)
        rows.append(row)
    # Each variant against the control is one test of several: significance is read
    # from the p-value adjusted for all of them.
    for row, adjusted in zip(rows, holm([r["p_value"] for r in rows]), strict=True):
        row["p_value_adjusted"] = adjusted
        row["significant"] = adjusted is not None and adjusted < settings.alpha
    visitors = [variants[k].visitors for k in ordered]
    needed = (
        sample_size(base_x / base.visitors, settings.minimum_effect, settings.alpha, settings.power)
        if base.visitors else None
    )
    to_go = max(0, needed - min(visitors)) if needed is not None else None
    pace = min(visitors) / days if days > 0 else 0.0  # of the variant with fewest visitors
    days_to_go: float | None = None
    if to_go == 0:
        days_to_go = 0.0
    elif to_go and pace:
        days_to_go = to_go / pace
    return {
        "name": name,
        "control": control,
        "visitors": sum(visitors),
        "leads": sum(variants[k].leads for k in ordered),
        "won_value": round(sum(variants[k].won_value for k in ordered), 2),
        "srm": _srm(name, ordered, visitors, settings),
        "sample_size": {
            "per_variant": needed,
            "visitors_to_go": to_go,
            "days_to_go": days_to_go,
            "minimum_effect": settings.minimum_effect,
            "power": settings.power,
        },
        "variants": rows,
    }
