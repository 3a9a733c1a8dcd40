"""What the simulator's visitors do: where they come from (channels with real
referrers, UTM tags and click ids), on what device and from which country, how fast
the pages feel to them (Web Vitals drawn from per-device distributions), how far they
read, and whether they become a lead, a spam submission or a bot.

A :class:`Visit` is a plan: a person (their address, user agent and remembered
attribution token, as the browser's localStorage would hold it) and a list of timed
steps. The simulator plays plans against the real app, in accelerated time, or
writes them into the past for the backfill; this module decides nothing about how.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from leadwatch.demo.content import CONTACT_CTA, LANDINGS, PREFIX, RESOURCE, SERVICES
from leadwatch.marketing.analytics import rating

# (weight, user agent, device class). Real user agents of current browsers.
DEVICES: tuple[tuple[float, str, str], ...] = (
    (0.24, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36", "desktop"),
    (0.10, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4.1 Safari/605.1.15", "desktop"),
    (0.08, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.67", "desktop"),
    (0.05, "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
     "desktop"),
    (0.05, "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like "
     "Gecko) Chrome/124.0.0.0 Safari/537.36", "desktop"),
    (0.22, "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 "
     "(KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "mobile"),
    (0.12, "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/124.0.6367.82 Mobile Safari/537.36", "mobile"),
    (0.08, "Mozilla/5.0 (Linux; Android 14; SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36", "mobile"),
    (0.06, "Mozilla/5.0 (iPad; CPU OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
     "Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "tablet"),
)

BOTS = (
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "HeadlessChrome/124.0.0.0 Safari/537.36",
)

# (weight, country, /24 prefixes that iptocc places in it: tests/demo checks them).
COUNTRIES: tuple[tuple[float, str, tuple[str, ...]], ...] = (
    (0.45, "GB", ("2.99.199", "2.121.243", "2.220.191", "5.66.81")),
    (0.14, "US", ("3.0.1", "3.11.34", "3.22.67", "3.33.100")),
    (0.08, "IE", ("31.88.229", "37.0.1", "57.66.13", "57.77.140")),
    (0.06, "DE", ("2.165.81", "2.209.169", "2.242.235", "5.231.156")),
    (0.05, "NL", ("2.22.45", "24.132.169", "62.132.185", "62.187.95")),
    (0.04, "FR", ("2.11.23", "5.11.56", "31.33.24", "37.66.193")),
    (0.03, "ES", ("2.143.37", "2.154.59", "5.154.21", "37.11.158")),
    (0.05, "CA", ("24.66.85", "24.77.99", "24.143.183", "45.44.231")),
    (0.04, "AU", ("27.33.142", "27.253.82", "39.0.1", "49.176.125")),
    (0.03, "IN", ("14.99.137", "14.143.3", "42.110.121", "47.11.18")),
    (0.03, "SE", ("2.0.1", "2.66.133", "2.253.7", "5.242.211")),
)

SEO_AUDIT, PPC_LANDING = LANDINGS[0].path, LANDINGS[1].path
SEO, PPC, WEB = (s.path for s in SERVICES)


@dataclass(frozen=True)
class Channel:
    """How a kind of visitor arrives: referrers, UTM tags and click ids on the landing
    URL, the pages they land on, and how likely such a visit is to become a lead."""

    name: str  # the channel the collector should derive (tests check it does)
    weight: float
    referrers: tuple[str, ...] = ()
    utm: tuple[dict[str, str], ...] = ()
    click_id: str | None = None
    landings: tuple[tuple[float, str], ...] = ((1.0, "/"),)
    conversion: float = 0.03


CHANNELS: tuple[Channel, ...] = (
    Channel("Organic Search", 0.36,
            referrers=("https://www.google.com/", "https://www.google.co.uk/",
                       "https://www.bing.com/", "https://duckduckgo.com/", "https://www.ecosia.org/"),
            landings=((0.30, SEO_AUDIT), (0.20, SEO), (0.25, "/"), (0.10, WEB), (0.15, PPC)),
            conversion=0.035),
    Channel("Paid Search", 0.14,
            referrers=("https://www.google.com/", "https://www.google.co.uk/", "https://www.bing.com/"),
            utm=({"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "ppc-management-uk",
                  "utm_term": "ppc agency manchester"},
                 {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "seo-audit-uk",
                  "utm_term": "free seo audit"},
                 {"utm_source": "bing", "utm_medium": "cpc", "utm_campaign": "ppc-management-uk"}),
            click_id="gclid",
            landings=((0.6, PPC_LANDING), (0.4, SEO_AUDIT)), conversion=0.05),
    Channel("Organic Social", 0.08,
            referrers=("https://www.linkedin.com/", "https://t.co/", "https://l.facebook.com/",
                       "https://www.reddit.com/r/PPC/"),
            landings=((0.5, "/"), (0.3, SEO), (0.2, WEB)), conversion=0.015),
    Channel("Paid Social", 0.06,
            referrers=("https://www.linkedin.com/", "https://l.facebook.com/"),
            utm=({"utm_source": "linkedin", "utm_medium": "paid_social",
                  "utm_campaign": "b2b-growth-q3", "utm_content": "carousel-case-study"},
                 {"utm_source": "facebook", "utm_medium": "paid_social",
                  "utm_campaign": "seo-audit-retargeting"}),
            landings=((0.7, SEO_AUDIT), (0.3, PPC_LANDING)), conversion=0.02),
    Channel("Email", 0.07,
            utm=({"utm_source": "newsletter", "utm_medium": "email",
                  "utm_campaign": "monthly-insights"},
                 {"utm_source": "mailchimp", "utm_medium": "email",
                  "utm_campaign": "core-web-vitals-guide"}),
            landings=((0.4, SEO), (0.3, WEB), (0.3, "/")), conversion=0.05),
    Channel("Referral", 0.07,
            referrers=("https://clutch.co/agencies/digital-marketing/manchester",
                       "https://www.designrush.com/agency/digital-marketing/uk",
                       "https://www.prolificnorth.co.uk/news/agencies"),
            landings=((0.6, "/"), (0.2, WEB), (0.2, SEO)), conversion=0.045),
    Channel("Direct", 0.14, landings=((0.7, "/"), (0.3, "/contact")), conversion=0.03),
    Channel("AI Assistants", 0.05,
            referrers=("https://chatgpt.com/", "https://www.perplexity.ai/", "https://gemini.google.com/"),
            landings=((0.5, "/"), (0.3, SEO), (0.2, PPC)), conversion=0.06),
    Channel("Display", 0.03,
            referrers=("https://www.theguardian.com/", "https://www.marketingweek.com/"),
            utm=({"utm_source": "gdn", "utm_medium": "display", "utm_campaign": "brand-awareness"},),
            landings=((1.0, PPC_LANDING),), conversion=0.005),
)

FIRST = ("Amelia", "Oliver", "Priya", "Jack", "Sophie", "Mohammed", "Grace", "Liam", "Hannah",
         "Daniel", "Chloe", "Aisha", "Thomas", "Emily", "Ryan", "Niamh", "Lukas", "Sara",
         "James", "Fatima", "Ben", "Olivia", "Connor", "Megan")
LAST = ("Patel", "Smith", "O'Brien", "Jones", "Williams", "Khan", "Taylor", "Brown", "Walsh",
        "Evans", "Murphy", "Schmidt", "Hughes", "Ahmed", "Clarke", "Wright", "Kowalski")
COMPANIES = (
    ("Northwind Analytics", "northwind-analytics.example", "software"),
    ("Pennine Accountants", "pennineaccountants.example", "professional services"),
    ("Mersey Outdoor", "merseyoutdoor.example", "ecommerce"),
    ("Holloway & Grant Solicitors", "hollowaygrant.example", "professional services"),
    ("Brightloop", "brightloop.example", "software"),
    ("Castlefield Interiors", "castlefield-interiors.example", "retail"),
    ("Tidewater Logistics", "tidewater-logistics.example", "logistics"),
    ("Kestrel Health", "kestrelhealth.example", "healthcare"),
    ("Oakridge Manufacturing", "oakridge-mfg.example", "manufacturing"),
    ("Lumen Learning Ltd", "lumenlearning.example", "education"),
)
MESSAGES = {
    SEO: ("Our organic traffic has dropped by a third since the last core update. Can you audit "
          "the site and tell us what happened?",
          "We rank on page two for most of our product terms. Looking for an SEO partner for 12 months."),
    PPC: ("We spend about £8k a month on Google Ads and cannot tell which campaigns bring customers.",
          "Looking for someone to take over our Google and LinkedIn ads; current CPL is £180."),
    WEB: ("We need a new website before our Series A announcement in the autumn.",
          "Our site is slow on mobile and the contact form breaks in Safari. Quote for a rebuild?"),
    "/": ("Could you call me about a mix of SEO and paid search for a new product line?",
          "Interested in a strategy call. We are a 40-person B2B software company."),
}
# A prospect quoting a symbol, which the SQL injection check refuses (one of the known
# false refusals, docs/security.md): held back, then judged and restored by the demo's
# analyst (demo/triage.py), as the Leads page's held-back view is for.
QUOTING_PROSPECT = 'Our quote calculator shows "=" then nothing on Safari. Could you quote for fixing it?'
QUOTING_SHARE = 0.04  # of standard and premium leads
SPAM_MESSAGES = (
    "Dear Sir/Madam, we offer 5000 high DA backlinks for $49. Guaranteed page 1 ranking!!!",
    "Buy cheap website traffic from real visitors - visit our site for a free trial",
)


@dataclass
class Person:
    """A visitor across visits: their browser (address, user agent) and what it keeps
    in localStorage (the attribution token); keys change daily, tokens do not."""

    ip: str
    user_agent: str
    device: str
    country: str
    token: str | None = None
    lead: bool = False


@dataclass(frozen=True)
class Hit:
    """One /collect batch, ``at`` seconds after the visit began."""

    at: float
    path: str
    events: tuple[dict[str, Any], ...]
    pageview: bool = False  # carries the page view (and the token) of a new page


@dataclass(frozen=True)
class Fetch:
    """A page request (the HTML the browser or bot asks for)."""

    at: float
    path: str


@dataclass(frozen=True)
class Submit:
    """A contact-form post: ``fields`` as typed; ``rendered`` seconds after the visit
    began the form (and its token) was rendered; ``honeypot`` what a bot put there."""

    at: float
    rendered: float
    fields: dict[str, str]
    honeypot: str | None = None
    quality: str = "standard"


Step = Hit | Fetch | Submit


@dataclass
class Visit:
    person: Person
    channel: str | None  # None for bots
    landing_url: str  # the landing page with its query (UTM tags, click id)
    referrer: str | None
    steps: list[Step] = field(default_factory=list)


def _pick(rng: random.Random, weighted: tuple[tuple[float, Any], ...] | tuple[Any, ...]) -> Any:
    return rng.choices([w[1] for w in weighted], weights=[w[0] for w in weighted])[0]


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return median * math.exp(rng.gauss(0.0, sigma))


SPEED = {"desktop": 1.0, "tablet": 1.3, "mobile": 1.6}


def vitals(rng: random.Random, device: str, kind: str, interacted: bool) -> list[dict[str, Any]]:
    """The Web Vitals one page load reports, as /lw.js sends them (ms; CLS unitless),
    with the attribution the web-vitals package gives (element, phase)."""
    slow = SPEED[device] * (1.2 if kind == "landing" else 1.0)
    ttfb = lognormal(rng, 180 * slow, 0.55)
    fcp = ttfb + lognormal(rng, 650 * slow, 0.45)
    lcp = fcp + lognormal(rng, 420 * slow, 0.7)
    roll = rng.random()
    cls = rng.uniform(0, 0.04) if roll < 0.72 else rng.uniform(0.04, 0.16) if roll < 0.92 else rng.uniform(0.16, 0.45)
    element = "main h1" if kind != "landing" else "section.hero.landing>p.lead"
    phases = {"timeToFirstByte": ttfb, "resourceLoadDelay": 0.0, "resourceLoadDuration": 0.0,
              "elementRenderDelay": lcp - ttfb}
    out = [
        _vital("TTFB", ttfb, {"waitingDuration": ttfb * 0.8, "requestDuration": ttfb * 0.2}),
        _vital("FCP", fcp, {"timeToFirstByte": ttfb, "firstByteToFCP": fcp - ttfb}),
        _vital("LCP", lcp, phases, target=element),
        _vital("CLS", round(cls, 4), {}, target="footer" if cls > 0.1 else None),
    ]
    if interacted:
        fid = lognormal(rng, 6 * SPEED[device] ** 2, 0.9)
        inp = max(fid + 16, lognormal(rng, 85 * SPEED[device], 0.6))
        out.append(_vital("FID", fid, {}))
        out.append(_vital("INP", inp, {"inputDelay": fid, "processingDuration": inp * 0.4,
                                       "presentationDelay": max(0.0, inp * 0.6 - fid)},
                          target="a.button"))
    return out


def _vital(name: str, value: float, phases: dict[str, float], target: str | None = None) -> dict[str, Any]:
    # The browser rates the value it sends in ms; the thresholds are in seconds.
    props: dict[str, Any] = {"rating": rating(name, value if name == "CLS" else value / 1000),
                             "nav": "navigate"}
    if target:
        props["target"] = target
    if phases:
        props.update({k: round(v) for k, v in phases.items()})
        props["phase"] = max(phases, key=lambda k: phases[k])
    return {"type": "vital", "name": name, "value": round(value, 4 if name == "CLS" else 1),
            "props": props}


class TrafficModel:
    """Draws people and visits. ``base_url`` is where the demo site is served (the
    page addresses the browser would report); all randomness comes from ``rng``."""

    def __init__(self, rng: random.Random, base_url: str):
        self.rng = rng
        self.base = base_url.rstrip("/") + PREFIX
        self.returning: list[Person] = []  # earlier visitors who may come back

    def person(self) -> Person:
        rng = self.rng
        _, agent, device = rng.choices(DEVICES, weights=[d[0] for d in DEVICES])[0]
        _, country, prefixes = rng.choices(COUNTRIES, weights=[c[0] for c in COUNTRIES])[0]
        return Person(f"{rng.choice(prefixes)}.{rng.randint(2, 253)}", agent, device, country)

    def visit(self) -> Visit:
        """A visit: a bot (3%), a spam bot posting the form (0.7%), or a person, new or
        returning, across channels."""
        rng = self.rng
        roll = rng.random()
        if roll < 0.03:
            return self._bot()
        if roll < 0.037:
            return self._spam()
        returning = self.returning and rng.random() < 0.18
        person = rng.choice(self.returning) if returning else self.person()
        channel = _pick(rng, tuple((c.weight, c) for c in CHANNELS))
        visit = self._human(person, channel, boost=1.8 if returning else 1.0)
        if not returning and not person.lead:
            self.returning.append(person)
            del self.returning[:-500]
        return visit

    # ---- the kinds of visit ----

    def _landing(self, channel: Channel) -> tuple[str, str, str | None]:
        rng = self.rng
        path = _pick(rng, channel.landings)
        query = dict(rng.choice(channel.utm)) if channel.utm else {}
        if channel.click_id:
            query[channel.click_id] = "".join(rng.choices("abcdefghijkmnpqrstuvwxyzABCDEFGH0123456789_-", k=40))
        url = self.base + path + ("?" + "&".join(f"{k}={v.replace(' ', '+')}" for k, v in query.items()) if query else "")
        referrer = rng.choice(channel.referrers) if channel.referrers else None
        return path, url, referrer

    def _human(self, person: Person, channel: Channel, boost: float) -> Visit:
        rng = self.rng
        path, url, referrer = self._landing(channel)
        visit = Visit(person, channel.name, url, referrer)
        # Whether this visit becomes a lead: the channel's rate, less on mobile, and less
        # when the landing page feels slow (what slowness costs).
        landing_vitals = vitals(rng, person.device, _kind(path), interacted=True)
        lcp = next(v for v in landing_vitals if v["name"] == "LCP")["props"]["rating"]
        p = channel.conversion * boost * (0.8 if person.device == "mobile" else 1.1)
        p *= {"good": 1.15, "needs-improvement": 0.75, "poor": 0.45}[lcp]
        # The contact page's A/B test changes who sends the form, not who reaches it:
        # the share that starts the form (sends or gives up) is the same in each variant,
        # so the test's exposures split evenly and only conversion differs.
        variant = CONTACT_CTA.assign(person.ip, person.user_agent)
        reach = p + (1 - p) * p * 1.2
        sends = p * CONTACT_CTA.lift(variant)
        converts = not person.lead and rng.random() < sends
        abandons = not converts and rng.random() < (reach - sends) / (1 - sends)
        route = self._route(path, wants_contact=converts or abandons)
        t = 0.0
        for i, page in enumerate(route):
            kind = _kind(page)
            dwell = lognormal(rng, 40 if kind != "contact" else 75, 0.8)
            interacted = rng.random() < 0.75
            page_vitals = landing_vitals if i == 0 else vitals(rng, person.device, kind, interacted)
            visit.steps.append(Fetch(t, page))
            pageview: dict[str, Any] = {"type": "pageview", "url": url if i == 0 else self.base + page,
                                        "title": _title(page)}
            if i == 0 and referrer:
                pageview["referrer"] = referrer
            shown: tuple[dict[str, Any], ...] = (pageview,)
            if kind == "contact":  # the page's script reports the exposure (experiment.js)
                shown += ({"type": "experiment", "name": CONTACT_CTA.name, "props": {"variant": variant}},)
            visit.steps.append(Hit(t + 0.4, page, shown, pageview=True))
            later: list[dict[str, Any]] = []
            if kind == "contact" and (converts or abandons):
                later.append({"type": "form_start", "name": "contact"})
                if converts:
                    lead = self._lead(person, route[0], t + 1, t + dwell)
                    lead.fields["exp_" + CONTACT_CTA.name] = variant  # as /lw.js fills the form
                    visit.steps.append(lead)
                    later.append({"type": "form_submit", "name": "contact"})
            if kind != "contact" and rng.random() < 0.06:
                later.append({"type": "download", "name": RESOURCE,
                              "props": {"href": f"{self.base}/resources/{RESOURCE}"}})
            if rng.random() < 0.04:
                later.append({"type": "outbound", "name": "www.linkedin.com",
                              "props": {"href": "https://www.linkedin.com/company/reboot-media-demo"}})
            scroll = min(100, int(rng.uniform(25, 100) if dwell > 15 else rng.uniform(10, 60)))
            later.append({"type": "engagement", "value": round(dwell * 1000 * rng.uniform(0.6, 1.0)),
                          "props": {"scroll": scroll}})
            visit.steps.append(Hit(t + dwell, page, tuple(page_vitals + later)))
            t += dwell + rng.uniform(0.3, 2.0)
        if converts:
            person.lead = True
        return visit

    def _route(self, landing: str, wants_contact: bool) -> list[str]:
        """Pages in order: the funnel home → service → contact, with drop-off."""
        rng = self.rng
        route = [landing]
        if landing == "/contact":
            return route if wants_contact else route + ["/"]
        if landing == "/" and (wants_contact or rng.random() < 0.55):
            route.append(rng.choice((SEO, PPC, WEB)))
        elif landing in (SEO_AUDIT, PPC_LANDING) and rng.random() < 0.3:
            route.append(SEO if landing == SEO_AUDIT else PPC)
        if wants_contact:
            route.append("/contact")
        elif rng.random() < 0.25:
            route.append(rng.choice(("/", SEO, PPC, WEB, "/contact")))
        return route

    def _lead(self, person: Person, landing: str, rendered: float, at: float) -> Submit:
        rng = self.rng
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, domain, industry = rng.choice(COMPANIES)
        quality = rng.choices(("premium", "standard", "low"), weights=(0.25, 0.5, 0.25))[0]
        topic = landing if landing in MESSAGES else SEO if landing == SEO_AUDIT else PPC
        fields = {"name": f"{first} {last}", "message": rng.choice(MESSAGES[topic]),
                  "consent_processing": "on"}
        if quality == "low":
            fields["email"] = f"{first}.{last}{rng.randint(1, 99)}@gmail.com".lower().replace("'", "")
            fields["message"] = rng.choice(("Price list please", "How much for SEO?", "call me"))
        else:
            fields["email"] = f"{first}.{last}@{domain}".lower().replace("'", "")
            fields["company"] = company
            fields["phone"] = f"+44 161 496 {rng.randint(0, 9999):04d}"
            fields["industry"] = industry
            fields["country"] = person.country
            fields["company_size"] = rng.choice(("11-50", "51-200") if quality == "standard" else ("51-200", "201-1000"))
            if quality == "premium":
                fields["budget"] = rng.choice(("£5,000-£10,000", "Over £10,000"))
                fields["consent_marketing"] = "on"
            elif rng.random() < 0.5:
                fields["budget"] = rng.choice(("£1,000-£2,500", "£2,500-£5,000"))
            if rng.random() < QUOTING_SHARE:
                fields["message"] = QUOTING_PROSPECT
        return Submit(at, rendered, fields, quality=quality)

    def _bot(self) -> Visit:
        rng = self.rng
        agent = rng.choice(BOTS)
        person = Person(f"66.249.{rng.randint(64, 95)}.{rng.randint(1, 254)}", agent, "bot", "US")
        visit = Visit(person, None, self.base + "/", None)
        t = 0.0
        for page in rng.sample(["/", SEO, PPC, WEB, SEO_AUDIT, PPC_LANDING, "/contact"], k=rng.randint(1, 4)):
            visit.steps.append(Fetch(t, page))
            if "HeadlessChrome" in agent:  # a headless browser runs the snippet
                event = {"type": "pageview", "url": self.base + page, "title": _title(page)}
                visit.steps.append(Hit(t + 0.2, page, (event,), pageview=True))
            t += rng.uniform(0.5, 3)
        return visit

    def _spam(self) -> Visit:
        """A form-spam bot: fetches the contact page and posts at once, filling every
        field, the honeypot included."""
        rng = self.rng
        person = self.person()
        visit = Visit(person, None, self.base + "/contact", None)
        visit.steps.append(Fetch(0.0, "/contact"))
        fields = {"name": rng.choice(("SEO Expert", "Marketing Team", "Alex")),
                  "email": f"offers{rng.randint(100, 999)}@mail-blast.example",
                  "phone": "+1 555 0100", "company": "Rank Booster", "message": rng.choice(SPAM_MESSAGES)}
        honeypot = "https://cheap-backlinks.example" if rng.random() < 0.7 else None
        visit.steps.append(Submit(0.6, 0.0, fields, honeypot=honeypot, quality="spam"))
        return visit


def _kind(path: str) -> str:
    if path.startswith("/landing/"):
        return "landing"
    if path.startswith("/services/"):
        return "service"
    return {"/": "home", "/contact": "contact"}.get(path, "page")


def _title(path: str) -> str:
    from leadwatch.demo.content import PAGES

    return PAGES[path].title


def hourly_weight(hour: int, weekday: int) -> float:
    """Relative traffic of an hour of a day (UK business hours peak, quiet nights and
    weekends), for the backfill's timeline."""
    day = 1.0 if weekday < 5 else 0.45
    curve = 0.15 + 0.85 * math.exp(-((hour - 13.5) ** 2) / 18.0)
    return day * curve
