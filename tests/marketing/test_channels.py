"""Channel rules against real-world referrer/UTM cases (GA4 default channel grouping style)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadwatch.marketing.channels import CHANNELS, classify_channel, host_of, source_lists

# (referrer, utm_source, utm_medium, utm_campaign, click ids, expected)
CASES = [
    # Nothing at all: typed URL, bookmark, app without referrer.
    (None, None, None, None, (), "Direct"),
    ("", "", "", None, (), "Direct"),
    (None, "(direct)", "(none)", None, (), "Direct"),
    # Search engines, organic.
    ("https://www.google.com/", None, None, None, (), "Organic Search"),
    ("https://www.google.co.uk/", None, None, None, (), "Organic Search"),
    ("https://www.google.de/search?q=seo+agentur", None, None, None, (), "Organic Search"),
    ("https://www.bing.com/search?q=reboot+media", None, None, None, (), "Organic Search"),
    ("https://duckduckgo.com/", None, None, None, (), "Organic Search"),
    ("https://search.yahoo.com/", None, None, None, (), "Organic Search"),
    ("https://yandex.ru/", None, None, None, (), "Organic Search"),
    ("https://www.ecosia.org/", None, None, None, (), "Organic Search"),
    ("https://search.brave.com/search?q=x", None, None, None, (), "Organic Search"),
    (None, "google", "organic", None, (), "Organic Search"),
    (None, "newsletter-partner", "organic", None, (), "Organic Search"),
    # Paid search: auto-tagging click ids, or a paid medium on a search source.
    ("https://www.google.com/", None, None, None, ("gclid",), "Paid Search"),
    (None, None, None, None, ("gclid",), "Paid Search"),
    (None, None, None, None, ("gbraid",), "Paid Search"),
    ("https://www.bing.com/", None, None, None, ("msclkid",), "Paid Search"),
    (None, "google", "cpc", "brand-uk", (), "Paid Search"),
    (None, "bing", "ppc", None, (), "Paid Search"),
    (None, "google", "paidsearch", None, (), "Paid Search"),
    (None, "Google", "CPC", None, (), "Paid Search"),
    ("https://www.google.com/", "google", "retargeting", None, (), "Paid Search"),
    # Social, organic and paid.
    ("https://l.facebook.com/", None, None, None, (), "Organic Social"),
    ("https://m.facebook.com/", None, None, None, (), "Organic Social"),
    ("https://t.co/abc123", None, None, None, (), "Organic Social"),
    ("https://www.linkedin.com/feed/", None, None, None, (), "Organic Social"),
    ("https://lnkd.in/e3x", None, None, None, (), "Organic Social"),
    ("https://www.reddit.com/r/marketing/", None, None, None, (), "Organic Social"),
    ("https://news.ycombinator.com/item?id=1", None, None, None, (), "Organic Social"),
    ("https://www.youtube.com/", None, None, None, (), "Organic Social"),
    ("https://www.pinterest.co.uk/", None, None, None, (), "Organic Social"),
    (None, "linkedin", "social", None, (), "Organic Social"),
    (None, "someforum", "social-media", None, (), "Organic Social"),
    (None, "facebook", "paid_social", "q4", (), "Paid Social"),
    (None, "fb", "cpc", None, (), "Paid Social"),
    (None, "linkedin", "paid", None, (), "Paid Social"),
    ("https://l.facebook.com/", None, None, None, ("fbclid",), "Paid Social"),
    (None, None, None, None, ("ttclid",), "Paid Social"),
    (None, None, None, None, ("li_fat_id",), "Paid Social"),
    # A click id does not override a medium that says organic.
    ("https://l.facebook.com/", "facebook", "social", None, ("fbclid",), "Organic Social"),
    # Display.
    (None, "gdn", "display", None, (), "Display"),
    (None, "dv360", "banner", None, (), "Display"),
    (None, "adroll", "cpm", None, (), "Display"),
    (None, None, None, None, ("dclid",), "Display"),
    # AI assistants (ChatGPT adds utm_source=chatgpt.com to its links).
    ("https://chatgpt.com/", None, None, None, (), "AI Assistants"),
    ("https://chat.openai.com/", None, None, None, (), "AI Assistants"),
    (None, "chatgpt.com", None, None, (), "AI Assistants"),
    ("https://www.perplexity.ai/search/x", None, None, None, (), "AI Assistants"),
    ("https://gemini.google.com/app", None, None, None, (), "AI Assistants"),
    ("https://claude.ai/chat/1", None, None, None, (), "AI Assistants"),
    ("https://copilot.microsoft.com/", None, None, None, (), "AI Assistants"),
    # Email.
    (None, "newsletter", "email", "nov-2026", (), "Email"),
    (None, "mailchimp", "e-mail", None, (), "Email"),
    (None, "crm", "newsletter", None, (), "Email"),
    ("https://mail.google.com/", None, None, None, (), "Email"),
    ("https://outlook.live.com/mail/0/", None, None, None, (), "Email"),
    # Referral.
    ("https://www.example-blog.com/best-agencies", None, None, None, (), "Referral"),
    ("https://github.com/some/repo", None, None, None, (), "Referral"),
    (None, "partner-site", "referral", None, (), "Referral"),
    (None, "newsletter", "referral", None, (), "Referral"),
    # Unassigned: tagged, but the tags match no rule (or paid on an unknown network).
    (None, "partner-site", "banner-swap", None, (), "Unassigned"),
    (None, None, None, "spring-sale", (), "Unassigned"),
    (None, "adnetwork-x", "cpc", None, (), "Unassigned"),
]


@pytest.mark.parametrize(("referrer", "source", "medium", "campaign", "clicks", "expected"), CASES)
def test_real_world_cases(
    referrer: str | None,
    source: str | None,
    medium: str | None,
    campaign: str | None,
    clicks: tuple[str, ...],
    expected: str,
) -> None:
    got = classify_channel(
        referrer=referrer,
        utm_source=source,
        utm_medium=medium,
        utm_campaign=campaign,
        click_ids=clicks,
        site_domain="rebootmedia.example",
    )
    assert got == expected


@pytest.mark.parametrize(
    "referrer",
    [
        "https://rebootmedia.example/services/seo",
        "https://www.rebootmedia.example/",
        "https://blog.rebootmedia.example/post",
    ],
)
def test_the_sites_own_pages_are_not_a_referral(referrer: str) -> None:
    got = classify_channel(
        referrer=referrer, utm_source=None, utm_medium=None, site_domain="rebootmedia.example"
    )
    assert got == "Direct"


def test_without_a_site_domain_every_referrer_counts() -> None:
    got = classify_channel(referrer="https://rebootmedia.example/", utm_source=None, utm_medium=None)
    assert got == "Referral"


def test_lookalike_hosts_do_not_match() -> None:
    for host in ("https://notgoogle.com/", "https://google.com.evil.example/", "https://xt.co/"):
        got = classify_channel(referrer=host, utm_source=None, utm_medium=None)
        assert got == "Referral", host


def test_the_data_file_names_only_known_channels() -> None:
    assert set(source_lists().click_ids.values()) <= set(CHANNELS)


def test_host_of_tolerates_garbage() -> None:
    assert host_of("not a url at all") is None or isinstance(host_of("not a url at all"), str)
    assert host_of("http://[::1") is None
    assert host_of("android-app://com.google.android.gm/") == "com.google.android.gm"


def test_android_app_referrers() -> None:
    app = "android-app://com.google.android.googlequicksearchbox/"
    assert classify_channel(referrer=app, utm_source=None, utm_medium=None) == "Organic Search"
    gmail = "android-app://com.google.android.gm/"
    assert classify_channel(referrer=gmail, utm_source=None, utm_medium=None) == "Email"


@given(
    referrer=st.one_of(st.none(), st.text(max_size=80)),
    source=st.one_of(st.none(), st.text(max_size=30)),
    medium=st.one_of(st.none(), st.text(max_size=30)),
    campaign=st.one_of(st.none(), st.text(max_size=30)),
    clicks=st.lists(st.sampled_from(["gclid", "fbclid", "dclid", "x", "msclkid"]), max_size=3),
)
def test_always_one_of_the_channels(
    referrer: str | None,
    source: str | None,
    medium: str | None,
    campaign: str | None,
    clicks: list[str],
) -> None:
    got = classify_channel(
        referrer=referrer, utm_source=source, utm_medium=medium, utm_campaign=campaign, click_ids=clicks
    )
    assert got in CHANNELS
