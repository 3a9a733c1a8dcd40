"""User agents: browser, OS, device class and bot verdicts on real strings."""

from __future__ import annotations

import pytest

from leadwatch.enrich.useragent import parse_user_agent

CHROME_WIN = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CASES = [
    (CHROME_WIN, "Chrome", "Windows", "desktop", None),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.1 Safari/605.1.15",
        "Safari", "Mac OS X", "desktop", None,
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "Firefox", "Windows", "desktop", None,
    ),
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
        "Mobile Safari", "iOS", "mobile", None,
    ),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Mobile Safari/537.36",
        "Chrome Mobile", "Android", "mobile", None,
    ),
    (
        "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.0 Mobile/15E148 Safari/604.1",
        "Mobile Safari", "iOS", "tablet", None,
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0.0.0 Safari/537.36",
        "Chrome", "Android", "tablet", None,
    ),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
     "Googlebot", "Other", "bot", "spider"),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
     "bingbot", "Other", "bot", "spider"),
    (
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/131.0.0.0 Safari/537.36",
        "HeadlessChrome", "Linux", "bot", "headless",
    ),
    ("python-requests/2.32.3", "Python Requests", "Other", "bot", "crawler"),
    ("curl/8.5.0", "curl", "Other", "bot", "crawler"),
    ("", "Other", "Other", "bot", "empty"),
    (None, "Other", "Other", "bot", "empty"),
]


@pytest.mark.parametrize(("ua", "browser", "os", "device", "bot"), CASES)
def test_real_user_agents(ua: str | None, browser: str, os: str, device: str, bot: str | None) -> None:
    info = parse_user_agent(ua)
    assert (info.browser, info.os, info.device, info.bot) == (browser, os, device, bot)
    assert info.is_bot == (bot is not None)


def test_results_are_cached() -> None:
    parse_user_agent.cache_clear()
    parse_user_agent(CHROME_WIN)
    parse_user_agent(CHROME_WIN)
    assert parse_user_agent.cache_info().hits == 1


def test_absurdly_long_strings_are_truncated() -> None:
    info = parse_user_agent(CHROME_WIN + " x" * 50_000)
    assert info.browser == "Chrome"
