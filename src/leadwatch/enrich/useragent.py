"""User agents: browser, OS, device class and a bot verdict, behind one LRU cache.

ua-parser (with its Rust matcher, ua-parser-rs) names the browser, OS and device;
a bot is what ua-parser calls a "Spider", what the crawler-user-agents patterns
match, a headless browser, or a request with no user agent at all. Real traffic
repeats a few thousand strings, so the whole verdict is cached, not just the parse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Literal

from crawleruseragents import is_crawler
from ua_parser import Parser, load_lazy_builtins
from ua_parser.regex import Resolver

Device = Literal["desktop", "mobile", "tablet", "bot"]
BotReason = Literal["empty", "spider", "crawler", "headless"]

CACHE_SIZE = 10_000
MAX_LENGTH = 1024  # longer strings are truncated: no real browser sends more
UNKNOWN = "Other"

# Headless and automation browsers that crawler-user-agents leaves to the site.
_HEADLESS = re.compile(r"HeadlessChrome|PhantomJS|SlimerJS|Puppeteer|Playwright|Selenium|jsdom/")
_TABLET_DEVICES = re.compile(r"iPad|Tablet|Kindle|Silk|Nexus (7|9|10)|SM-T\d|Tab\b|Xoom|PlayBook", re.I)
_MOBILE_OS = frozenset({"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "Firefox OS"})


@dataclass(frozen=True, slots=True)
class UserAgentInfo:
    browser: str
    browser_version: str | None
    os: str
    device: Device
    bot: BotReason | None

    @property
    def is_bot(self) -> bool:
        return self.bot is not None


@cache
def _parser() -> Parser:
    # Built once per process: compiling the regex set takes a moment. The lazy
    # matchers (what ua_parser itself pairs with the Rust resolver) hand the same
    # patterns over without first compiling every one of them with Python's re.
    return Parser(Resolver(load_lazy_builtins()))


def warm() -> None:
    """Build the parser and compile the crawler patterns now (0.1-0.4 s), at start-up,
    so that the first request does not pay for it. One verdict is worked out, outside
    the cache: the parser and the crawler patterns compile on first use."""
    parse_user_agent.__wrapped__(_WARM_UP)


_WARM_UP = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


@lru_cache(maxsize=CACHE_SIZE)
def parse_user_agent(user_agent: str | None) -> UserAgentInfo:
    """The verdict for one User-Agent header (cached)."""
    ua = (user_agent or "").strip()[:MAX_LENGTH]
    if not ua:
        return UserAgentInfo(UNKNOWN, None, UNKNOWN, "bot", "empty")
    result = _parser().parse(ua)
    browser = result.user_agent.family if result.user_agent else UNKNOWN
    version = result.user_agent.major if result.user_agent else None
    os = result.os.family if result.os else UNKNOWN
    device_family = result.device.family if result.device else ""
    bot: BotReason | None = None
    if device_family == "Spider":
        bot = "spider"
    elif _HEADLESS.search(ua):
        bot = "headless"
    elif is_crawler(ua):
        bot = "crawler"
    return UserAgentInfo(browser, version, os, _device_class(ua, os, device_family, bot), bot)


def _device_class(ua: str, os: str, device_family: str, bot: BotReason | None) -> Device:
    if bot is not None:
        return "bot"
    if _TABLET_DEVICES.search(device_family) or _TABLET_DEVICES.search(ua):
        return "tablet"
    # Android tablets leave "Mobile" out of their user agent; phones put it in.
    if os == "Android" and "Mobile" not in ua:
        return "tablet"
    if os in _MOBILE_OS or "Mobile" in ua:
        return "mobile"
    return "desktop"
