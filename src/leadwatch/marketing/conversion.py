"""Conversion gauges for Prometheus, computed at scrape time by a custom collector:
visitors, leads and the conversion rate of each site over the last 24 hours, and the
target. Results are kept for a minute so frequent scrapes do not re-query the stores."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING

import structlog
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from leadwatch.marketing import analytics
from leadwatch.store.schema import utcnow

if TYPE_CHECKING:
    from leadwatch.runtime import Runtime

log = structlog.get_logger(__name__)

WINDOW = timedelta(hours=24)
CACHE_SECONDS = 60.0


class ConversionCollector(Collector):
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self._lock = threading.Lock()
        self._cached_at = -CACHE_SECONDS
        self._values: dict[str, tuple[int, int]] = {}

    def describe(self) -> list[GaugeMetricFamily]:
        # Described without querying: registration happens before the stores are migrated.
        return list(self._families({}))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._families(self._current())

    def _current(self) -> dict[str, tuple[int, int]]:
        with self._lock:
            if time.monotonic() - self._cached_at < CACHE_SECONDS:
                return self._values
            values: dict[str, tuple[int, int]] = {}
            end = utcnow()
            try:
                for site in sorted(self.runtime.site_ids):
                    scope = analytics.Scope(site, end - WINDOW, end)
                    visitors = analytics.totals(self.runtime.events, scope)["visitors"]
                    leads = len(analytics.leads_in(self.runtime.records, scope))
                    values[site] = (visitors, leads)
            except Exception:  # a store that is down must not break the whole scrape
                log.warning("conversion_gauges_failed", exc_info=True)
                return self._values
            self._values, self._cached_at = values, time.monotonic()
            return values

    def _families(self, values: dict[str, tuple[int, int]]) -> Iterator[GaugeMetricFamily]:
        visitors = GaugeMetricFamily(
            "leadwatch_visitors_24h", "Distinct visitors in the last 24 hours.", labels=["site"]
        )
        leads = GaugeMetricFamily(
            "leadwatch_leads_24h", "Accepted leads in the last 24 hours.", labels=["site"]
        )
        rate = GaugeMetricFamily(
            "leadwatch_conversion_rate_24h_ratio",
            "Leads per visitor in the last 24 hours.",
            labels=["site"],
        )
        target = GaugeMetricFamily(
            "leadwatch_conversion_target_ratio", "The conversion rate target (collect.conversion_target)."
        )
        for site, (v, n) in values.items():
            visitors.add_metric([site], v)
            leads.add_metric([site], n)
            if v:
                rate.add_metric([site], n / v)
        target.add_metric([], self.runtime.settings.collect.conversion_target)
        yield from (visitors, leads, rate, target)
