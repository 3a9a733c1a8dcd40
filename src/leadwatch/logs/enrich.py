"""Enrichment of parsed records: URL → route and UTM parameters → channel, threats in
path, query and user agent, user agent → browser/OS/device/bot, IP → country.

Every lookup here goes through a shared module (``leadwatch.security`` for threats,
``leadwatch.marketing.channels`` for channels, ``leadwatch.enrich`` for user agents
and geolocation) and is memoised, because logs repeat themselves: the same asset
paths, user agents and referrers come back on most lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

from leadwatch.enrich.geo import Geo, GeoLookup
from leadwatch.enrich.useragent import parse_user_agent
from leadwatch.logs.record import ACCESS, LogRecord, ThreatMatch
from leadwatch.marketing.channels import UTM_KEYS, classify_channel, source_lists
from leadwatch.security import Field, inspect

# Requests for these are page resources, not visits: no channel is derived from them.
ASSET_EXTENSIONS = frozenset(
    "css js mjs map png jpg jpeg gif webp avif svg ico woff woff2 ttf otf eot mp4 webm "
    "mp3 pdf zip gz xml txt json rss atom".split()
)
_ID_SEGMENT = re.compile(
    r"^(?:\d+|[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
    r"|[0-9a-fA-F]{16,}|(?=[A-Za-z0-9_-]{20,}$)(?=.*\d)[A-Za-z0-9_-]+)$"
)
MAX_EVIDENCE = 200


@lru_cache(maxsize=65_536)
def route_of(path: str) -> str:
    """The path with id-like segments (numbers, UUIDs, long hex or token-like strings)
    replaced by ``:id``, so per-route numbers group ``/leads/17`` with ``/leads/18``."""
    if not any(c.isdigit() for c in path):
        return path
    return "/".join(":id" if _ID_SEGMENT.match(s) else s for s in path.split("/"))


@lru_cache(maxsize=65_536)
def is_asset(path: str) -> bool:
    dot = path.rfind(".")
    return dot > path.rfind("/") and path[dot + 1 :].lower() in ASSET_EXTENSIONS


@lru_cache(maxsize=16_384)
def query_marketing(query: str) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """The UTM parameters and the ad click ids (``gclid``...) present in a query string."""
    pairs = parse_qsl(query, keep_blank_values=False)
    click_names = source_lists().click_ids
    utm = tuple((k, v[:200]) for k, v in pairs if k in UTM_KEYS)
    clicks = tuple(k for k, _ in pairs if k.lower() in click_names)
    return utm, clicks


@lru_cache(maxsize=16_384)
def _channel(
    referrer: str | None, utm: tuple[tuple[str, str], ...], clicks: tuple[str, ...], domain: str | None
) -> str:
    values = dict(utm)
    return classify_channel(
        referrer=referrer,
        utm_source=values.get("utm_source"),
        utm_medium=values.get("utm_medium"),
        utm_campaign=values.get("utm_campaign"),
        click_ids=clicks,
        site_domain=domain,
    )


@lru_cache(maxsize=65_536)
def threats_in(value: str, field: Field) -> tuple[ThreatMatch, ...]:
    return tuple(
        ThreatMatch(str(f.threat), f.rule, str(field), f.evidence[:MAX_EVIDENCE])
        for f in inspect(value, field)
    )


@lru_cache(maxsize=16_384)
def agent_fields(user_agent: str | None) -> tuple[str, str | None, str, str, bool]:
    """Browser, its version, OS, device class and the bot verdict, as the record's
    fields take them (one unpacking per line rather than five attribute reads)."""
    ua = parse_user_agent(user_agent)
    return ua.browser, ua.browser_version, ua.os, ua.device, ua.is_bot


def _geo_fields(found: Geo) -> dict[str, Any]:
    return {
        k: v
        for k, v in (("region", found.region), ("city", found.city),
                     ("asn", found.asn), ("as_org", found.as_org))
        if v is not None
    }


class Enricher:
    """Fills a record's derived fields. ``site_domains`` maps site ids to their domain
    (a referrer from the site itself is navigation, not a channel)."""

    def __init__(self, site_domains: dict[str, str | None], geo: GeoLookup):
        self.site_domains = site_domains
        self.geo = geo

    def enrich(self, record: LogRecord) -> None:
        path = record.path
        if path is not None:
            record.route = route_of(path)
        ip = record.source_ip
        if ip:
            found = self.geo.lookup(ip)
            record.country = found.country
            if found.region or found.city or found.asn is not None:
                record.geo = _geo_fields(found)
        if record.dataset == ACCESS:
            (record.browser, record.browser_version, record.os, record.device,
             record.bot) = agent_fields(record.user_agent)
            self._threats(record)
            if path is not None and record.method == "GET" and not is_asset(path):
                self._marketing(record)

    def enrich_all(self, records: Iterable[LogRecord]) -> None:
        enrich = self.enrich
        for record in records:
            enrich(record)

    def _marketing(self, record: LogRecord) -> None:
        utm: tuple[tuple[str, str], ...] = ()
        clicks: tuple[str, ...] = ()
        if record.query:
            utm, clicks = query_marketing(record.query)
            if utm:
                record.utm = dict(utm)
        status = record.status or 0
        if status < 400:
            record.channel = _channel(
                record.referrer, utm, clicks, self.site_domains.get(record.site_id)
            )

    def _threats(self, record: LogRecord) -> None:
        # Tuples: concatenating empty ones allocates nothing, and most lines have none.
        path = record.path or (record.target if record.method is None else None)
        found = threats_in(path, Field.PATH) if path else ()
        if record.query:
            found += threats_in(record.query, Field.QUERY)
        if record.user_agent:
            found += threats_in(record.user_agent, Field.HEADER)
        if found:
            record.threats = found
