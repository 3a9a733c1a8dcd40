"""The demo's attackers: what any lead-generation site meets every day, in short
bursts from a handful of addresses in hosting and Tor-exit ranges (never the
visitors' ranges, never loopback where the synthetic monitor comes from, so bans
never touch them).

- ``scanner``: a vulnerability scanner (sqlmap, Nikto, zgrab, Nuclei user agents)
  asking for ``/.env``, ``/.git/config``, ``/wp-login.php``, ``/phpmyadmin/``...;
  a long burst crosses the probing threshold and gets the address banned.
- ``sqli`` and ``xss``: injection attempts in the query strings of the demo's pages
  and through the contact form (``POST /api/leads``).
- ``form_spam``: a burst of bot submissions (the honeypot filled) that crosses
  ``security.form_spam_submissions``.
- ``flood``: more requests in a minute than ``security.flood_requests_per_minute``;
  past ``security.flood_burst`` the rate limit answers 429.

An :class:`Attack` is a plan, like a :class:`~leadwatch.demo.traffic.Visit`: the
simulator plays it against the app (live) or writes it as access-log lines (backfill,
with the answers the app would give: :func:`backfill_statuses`). Attack strings are
our own, the classic ones any WAF test uses.
"""

from __future__ import annotations

import random
from collections.abc import Collection
from dataclasses import dataclass, field
from urllib.parse import quote

from leadwatch.demo.content import PREFIX
from leadwatch.demo.traffic import SPAM_MESSAGES
from leadwatch.security import Field, inspect
from leadwatch.security.rates import TokenBucket
from leadwatch.settings import SecuritySettings

# (address, the country iptocc places it in: tests/demo checks both).
ATTACKERS: tuple[tuple[str, str], ...] = (
    ("185.220.101.47", "DE"),
    ("218.92.0.112", "CN"),
    ("141.98.11.23", "LT"),
    ("167.94.138.35", "US"),
    ("89.248.165.74", "NL"),
    ("51.195.44.13", "FR"),
    ("45.155.205.233", "RU"),
)
SCANNER_AGENTS = (
    "sqlmap/1.8.4#stable (https://sqlmap.org)",
    "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:Port Check)",
    "Mozilla/5.0 zgrab/0.x",
    "Nuclei - Open-source project (github.com/projectdiscovery/nuclei)",
)
SCRIPT_AGENTS = ("python-requests/2.31.0", "Go-http-client/1.1", "curl/8.5.0")
PROBE_PATHS = (
    "/.env", "/.git/config", "/wp-login.php", "/phpmyadmin/", "/wp-admin/", "/.env.production",
    "/config.php", "/backup.sql", "/.aws/credentials", "/xmlrpc.php", "/adminer.php",
    "/server-status", "/.DS_Store", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/wp-config.php.bak", "/.git/HEAD", "/phpinfo.php", "/docker-compose.yml",
)
SQLI = (
    "1' OR '1'='1",
    "1 UNION SELECT username, password FROM users--",
    "' AND SLEEP(5)--",
    "1; DROP TABLE leads--",
    "1' AND 1=CONVERT(int,(SELECT @@version))--",
)
XSS = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(document.cookie)>',
    "<svg/onload=alert(1)>",
)
PAGES = ("/", "/services/seo", "/services/ppc", "/landing/seo-audit")
PARAMETERS = ("id", "q", "page", "ref", "utm_campaign")
KINDS: tuple[tuple[float, str], ...] = (
    (0.36, "scanner"), (0.26, "sqli"), (0.16, "xss"), (0.18, "form_spam"), (0.04, "flood"),
)
FLOOD_MARGIN = 1.05  # a flood sends this many times the per-minute threshold...
FLOOD_SECONDS = 40.0  # ...within this many seconds
MAX_FLOOD_REQUESTS = 5000  # whatever the threshold, a demo flood stays this small


@dataclass(frozen=True)
class Probe:
    """One attacking request, ``at`` seconds after the attack began; ``threat``: what
    it carries (the backfill's answer depends on it)."""

    at: float
    method: str
    target: str  # path and query, encoded as a client sends them
    threat: str | None = None
    form: dict[str, str] | None = None


@dataclass
class Attack:
    kind: str
    ip: str
    user_agent: str
    steps: list[Probe] = field(default_factory=list)


class AttackModel:
    """Draws attacks. ``site_id`` and ``honeypot_field`` make form posts the intake
    reads (bots fill every field, the honeypot too, so their posts never count as
    leads); ``security`` sets the sizes of spam bursts and floods."""

    def __init__(self, rng: random.Random, site_id: str, honeypot_field: str, security: SecuritySettings):
        self.rng = rng
        self.site_id = site_id
        self.honeypot_field = honeypot_field
        self.security = security

    def attack(self, kind: str | None = None, banned: Collection[str] = ()) -> Attack:
        """An attack (of ``kind``, else drawn), from an address not in ``banned`` while
        there is one: a banned bot moves on to another of its addresses."""
        rng = self.rng
        kind = kind or rng.choices([k for _, k in KINDS], weights=[w for w, _ in KINDS])[0]
        ip = rng.choice([a for a, _ in ATTACKERS if a not in banned] or [a for a, _ in ATTACKERS])
        return {"scanner": self._scanner, "sqli": self._sqli, "xss": self._xss,
                "form_spam": self._form_spam, "flood": self._flood}[kind](ip)

    def _scanner(self, ip: str) -> Attack:
        rng = self.rng
        attack = Attack("scanner", ip, rng.choice(SCANNER_AGENTS))
        count = rng.randint(8, 30)  # past security.probing_requests (20): banned
        paths = [rng.choice(PROBE_PATHS) for _ in range(count)]
        t = 0.0
        for path in paths:
            attack.steps.append(Probe(t, "GET", path, "probe"))
            t += rng.uniform(0.2, 3.0)
        return attack

    def _injection(self, kind: str, ip: str, payloads: tuple[str, ...], form_field: str) -> Attack:
        rng = self.rng
        agent = SCANNER_AGENTS[0] if kind == "sqli" and rng.random() < 0.5 else rng.choice(SCRIPT_AGENTS)
        attack = Attack(kind, ip, agent)
        t = 0.0
        for _ in range(rng.randint(2, 6)):
            query = f"{rng.choice(PARAMETERS)}={quote(rng.choice(payloads), safe='')}"
            attack.steps.append(Probe(t, "GET", f"{PREFIX}{rng.choice(PAGES)}?{query}", kind))
            t += rng.uniform(0.5, 4.0)
        if rng.random() < 0.7:  # and through the contact form
            attack.steps.append(Probe(t, "POST", "/api/leads", kind, self._form(**{form_field: rng.choice(payloads)})))
        return attack

    def _sqli(self, ip: str) -> Attack:
        return self._injection("sqli", ip, SQLI, "company")

    def _xss(self, ip: str) -> Attack:
        return self._injection("xss", ip, XSS, "message")

    def _form_spam(self, ip: str) -> Attack:
        rng = self.rng
        attack = Attack("form_spam", ip, rng.choice(SCRIPT_AGENTS))
        t = 0.0
        for _ in range(self.security.form_spam_submissions + rng.randint(1, 5)):
            attack.steps.append(Probe(t, "POST", "/api/leads", None, self._form(message=rng.choice(SPAM_MESSAGES))))
            t += rng.uniform(2.0, 20.0)
        return attack

    def _flood(self, ip: str) -> Attack:
        rng = self.rng
        attack = Attack("flood", ip, rng.choice(SCRIPT_AGENTS))
        count = min(MAX_FLOOD_REQUESTS, int(self.security.flood_requests_per_minute * FLOOD_MARGIN) + 1)
        step = FLOOD_SECONDS / count
        attack.steps = [Probe(i * step, "GET", f"{PREFIX}{rng.choice(PAGES)}") for i in range(count)]
        return attack

    def _form(self, **fields: str) -> dict[str, str]:
        n = self.rng.randint(100, 999)
        return {"site_id": self.site_id, "name": "Alex", "email": f"offers{n}@mail-blast.example",
                "message": "Hello", self.honeypot_field: "https://cheap-backlinks.example", **fields}


def backfill_statuses(attack: Attack, security: SecuritySettings) -> list[int]:
    """The answers the app gives each request of ``attack`` (the backfill logs these;
    live traffic logs the real ones): blocked threats 403 (the lead intake always
    refuses SQL injection), other probes of paths the site lacks 404, form posts 201,
    and past the rate limit's burst (the real token bucket, on the attack's clock) 429."""
    t = [0.0]
    bucket = TokenBucket(security.flood_requests_per_minute / 60.0, security.flood_burst, lambda: t[0])
    blocked = set(security.block_threats)
    agent_blocked = any(f.threat in blocked for f in inspect(attack.user_agent, Field.HEADER))
    out = []
    for step in attack.steps:
        t[0] = step.at
        if bucket.take(attack.ip) > 0:
            out.append(429)
        elif agent_blocked or step.threat in blocked or (step.threat == "sqli" and step.form is not None):
            out.append(403)
        elif step.threat == "probe":
            out.append(404)
        else:
            out.append(201 if step.method == "POST" else 200)
    return out
