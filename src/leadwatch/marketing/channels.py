"""Channels: where a visit came from, in the style of GA4's default channel grouping.

A visit's referrer, UTM parameters and ad-platform click ids decide one of
:data:`CHANNELS`. The rules are code (below, in GA4's order of precedence); the source
lists they consult live in one data file, ``channel_sources.yaml``. docs/analytics.md
states the rules in prose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

import yaml

ORGANIC_SEARCH = "Organic Search"
PAID_SEARCH = "Paid Search"
ORGANIC_SOCIAL = "Organic Social"
PAID_SOCIAL = "Paid Social"
EMAIL = "Email"
REFERRAL = "Referral"
DIRECT = "Direct"
DISPLAY = "Display"
AI_ASSISTANTS = "AI Assistants"
UNASSIGNED = "Unassigned"

CHANNELS = (
    ORGANIC_SEARCH,
    PAID_SEARCH,
    ORGANIC_SOCIAL,
    PAID_SOCIAL,
    EMAIL,
    REFERRAL,
    DIRECT,
    DISPLAY,
    AI_ASSISTANTS,
    UNASSIGNED,
)
# The campaign parameters the channel rules and attribution read from a landing URL.
UTM_KEYS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
# Categories of sources, in the order they are tried (the most specific hosts first).
CATEGORIES = ("ai", "email", "social", "search")


@dataclass(frozen=True)
class SourceLists:
    domains: dict[str, tuple[re.Pattern[str], ...]]
    names: dict[str, frozenset[str]]
    paid_medium: re.Pattern[str]
    mediums: dict[str, frozenset[str]]
    click_ids: dict[str, str]


def _domain_pattern(entry: str) -> re.Pattern[str]:
    """``google.*`` matches google under any suffix of one or two short labels;
    ``t.co`` matches t.co and its subdomains."""
    if entry.endswith(".*"):
        name = re.escape(entry[:-2])
        return re.compile(rf"(?:^|\.){name}\.[a-z]{{2,6}}(?:\.[a-z]{{2,3}})?$")
    return re.compile(rf"(?:^|\.){re.escape(entry)}$")


@cache
def source_lists() -> SourceLists:
    raw: dict[str, Any] = yaml.safe_load(
        resources.files(__package__).joinpath("channel_sources.yaml").read_text("utf-8")
    )
    click_ids = {str(k): str(v) for k, v in raw["click_ids"].items()}
    unknown = set(click_ids.values()) - set(CHANNELS)
    if unknown:
        raise ValueError(f"channel_sources.yaml names unknown channels: {sorted(unknown)}")
    return SourceLists(
        domains={c: tuple(_domain_pattern(d) for d in raw[c]["domains"]) for c in CATEGORIES},
        names={c: frozenset(raw[c]["names"]) for c in CATEGORIES},
        paid_medium=re.compile(raw["paid_medium"]),
        mediums={
            key.removesuffix("_mediums").removesuffix("_sources"): frozenset(raw[key])
            for key in raw
            if key.endswith(("_mediums", "_sources"))
        },
        click_ids=click_ids,
    )


def host_of(url: str | None) -> str | None:
    """The lower-case host of a URL (``www.`` dropped), or None when there is none."""
    if not url:
        return None
    try:
        host = urlsplit(url if "//" in url else f"//{url}").hostname
    except ValueError:
        return None
    if not host:
        return None
    return host.removeprefix("www.")


@lru_cache(maxsize=4096)
def source_category(value: str | None) -> str | None:
    """``ai``, ``email``, ``social`` or ``search`` for a host or a utm_source value."""
    if not value:
        return None
    lists = source_lists()
    name = value.strip().lower()
    host = host_of(name) if "." in name else None
    for category in CATEGORIES:
        if name in lists.names[category]:
            return category
        if host and any(p.search(host) for p in lists.domains[category]):
            return category
    return None


def is_internal(host: str, site_domain: str | None) -> bool:
    """A referrer from the site itself (or its subdomains) is navigation, not a source."""
    if not site_domain:
        return False
    own = host_of(site_domain) or site_domain.lower()
    return host == own or host.endswith("." + own)


def classify_channel(
    *,
    referrer: str | None,
    utm_source: str | None,
    utm_medium: str | None,
    utm_campaign: str | None = None,
    click_ids: Iterable[str] = (),
    site_domain: str | None = None,
) -> str:
    """The channel of one visit (one of :data:`CHANNELS`)."""
    lists = source_lists()
    source = (utm_source or "").strip().lower()
    medium = (utm_medium or "").strip().lower()
    campaign = (utm_campaign or "").strip().lower()
    ref_host = host_of(referrer)
    if ref_host and is_internal(ref_host, site_domain):
        ref_host = None
    clicks = [lists.click_ids[c] for c in (c.strip().lower() for c in click_ids) if c in lists.click_ids]

    if medium in lists.mediums["none"]:
        medium = ""
    if source in lists.mediums["direct"] and not medium:
        return DIRECT
    if not (source or medium or campaign or clicks or ref_host):
        return DIRECT

    # UTM source wins over the referrer (that is what the link's owner declared).
    category = source_category(source) if source else source_category(ref_host)
    # A click id means an ad was clicked unless the link's medium says otherwise.
    paid = bool(lists.paid_medium.match(medium)) or (bool(clicks) and not medium)

    if paid and category == "search":
        return PAID_SEARCH
    if paid and category == "social":
        return PAID_SOCIAL
    if medium in lists.mediums["display"]:
        return DISPLAY
    if paid:
        # An ad platform's click id names its network even when the source is unknown.
        if clicks:
            return clicks[0]
        # GA4's "Paid Other": paid, but on no network leadwatch knows.
        return UNASSIGNED
    if category == "ai":
        return AI_ASSISTANTS
    if category == "social" or medium in lists.mediums["social"]:
        return ORGANIC_SOCIAL
    if category == "search" or medium in lists.mediums["organic"]:
        return ORGANIC_SEARCH
    if medium in lists.mediums["referral"]:
        return REFERRAL
    if category == "email" or medium in lists.mediums["email"]:
        return EMAIL
    if source or medium or campaign:
        return UNASSIGNED
    return REFERRAL if ref_host else DIRECT
